package io.forgequeue.forgesim;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** --api-auth over HTTP: FastAPI's 401 bodies and header, on /sdapi routes only. */
class AuthApiTest {

    private ForgeSimServer sim;

    private SimClient anonymous;

    @BeforeEach
    void startSim() {
        sim = SimTestSupport.startSim("--step-ms", "0", "--model-load-ms", "0", "--api-auth", "alice:secret,bob:pw");
        anonymous = new SimClient(sim.baseUrl());
    }

    @AfterEach
    void stopSim() {
        sim.close();
    }

    @Test
    void answers401NotAuthenticatedWithAChallengeWhenNoCredentialsAreSent() {
        SimClient.Reply progress = anonymous.get("/sdapi/v1/progress");
        SimClient.Reply txt2img = anonymous.txt2img("{}");

        for (SimClient.Reply reply : new SimClient.Reply[] {progress, txt2img}) {
            assertThat(reply.status()).isEqualTo(401);
            assertThat(reply.text()).isEqualTo("{\"detail\":\"Not authenticated\"}");
            assertThat(reply.headers().firstValue("www-authenticate")).hasValue("Basic");
        }
    }

    @Test
    void answers401IncorrectUsernameOrPasswordForWrongCredentials() {
        SimClient.Reply reply = anonymous.withBasicAuth("alice", "wrong").get("/sdapi/v1/sd-models");

        assertThat(reply.status()).isEqualTo(401);
        assertThat(reply.text()).isEqualTo("{\"detail\":\"Incorrect username or password\"}");
        assertThat(reply.headers().firstValue("www-authenticate")).hasValue("Basic");
    }

    @Test
    void answers401InvalidCredentialsForAnUndecodableHeader() {
        SimClient.Reply reply = anonymous.withAuthorization("Basic %%%").get("/sdapi/v1/options");

        assertThat(reply.text()).isEqualTo("{\"detail\":\"Invalid authentication credentials\"}");
    }

    @Test
    void servesEveryConfiguredUser() {
        assertThat(anonymous
                        .withBasicAuth("alice", "secret")
                        .txt2img("{\"steps\":1,\"width\":16,\"height\":16}")
                        .status())
                .isEqualTo(200);
        assertThat(anonymous
                        .withBasicAuth("bob", "pw")
                        .get("/sdapi/v1/progress")
                        .status())
                .isEqualTo(200);
    }

    @Test
    void leavesInternalRoutesAndUnknownPathsOutsideAuthentication() {
        assertThat(anonymous.get("/internal/ping").text()).isEqualTo("{}");
        assertThat(anonymous.get("/sdapi/v1/loras").status())
                .as("extension route")
                .isEqualTo(200);
        SimClient.Reply unknown = anonymous.get("/sdapi/v1/nope");
        assertThat(unknown.status()).isEqualTo(404);
        assertThat(unknown.text()).isEqualTo("{\"detail\":\"Not Found\"}");
    }
}
