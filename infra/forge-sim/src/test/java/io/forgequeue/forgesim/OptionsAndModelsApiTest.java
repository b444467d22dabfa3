package io.forgequeue.forgesim;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/** Options, the model/sampler/scheduler lists and the small endpoints, over HTTP. */
class OptionsAndModelsApiTest {

    private ForgeSimServer sim;

    private SimClient forge;

    @BeforeEach
    void startSim() {
        sim = SimTestSupport.startSim("--step-ms", "0", "--model-load-ms", "0", "--models", "a.safetensors,sub/b.ckpt");
        forge = new SimClient(sim.baseUrl());
    }

    @AfterEach
    void stopSim() {
        sim.close();
    }

    @Test
    void listsTheConfiguredCheckpointsLikeForge() {
        JsonNode models = forge.get("/sdapi/v1/sd-models").json();

        assertThat(models).hasSize(2);
        JsonNode b = models.get(1);
        assertThat(b.propertyNames()).containsExactly("title", "model_name", "hash", "sha256", "filename", "config");
        assertThat(b.get("title").stringValue())
                .isEqualTo("sub/b.ckpt [" + b.get("hash").stringValue() + "]");
        assertThat(b.get("hash").stringValue()).matches("[0-9a-f]{10}");
        assertThat(b.get("sha256").stringValue()).startsWith(b.get("hash").stringValue());
        assertThat(b.get("model_name").stringValue()).isEqualTo("sub_b");
        assertThat(b.get("config").isNull()).isTrue();
    }

    @Test
    void listsForgesSamplersAndSchedulers() {
        JsonNode samplers = forge.get("/sdapi/v1/samplers").json();
        JsonNode schedulers = forge.get("/sdapi/v1/schedulers").json();

        assertThat(samplers.get(0).toString())
                .isEqualTo(
                        "{\"name\":\"DPM++ 2M\",\"aliases\":[\"k_dpmpp_2m\"],\"options\":{\"scheduler\":\"karras\"}}");
        assertThat(samplers.findValuesAsString("name")).contains("Euler a", "Euler", "DDPM");
        assertThat(schedulers.get(0).toString())
                .isEqualTo("{\"name\":\"automatic\",\"label\":\"Automatic\",\"aliases\":null,"
                        + "\"default_rho\":-1.0,\"need_inner_model\":false}");
        assertThat(schedulers.findValuesAsString("label")).contains("Karras", "Simple", "Beta");
    }

    @Test
    void selectsACheckpointThroughOptionsAndLoadsItLazilyOnTheNextJob() {
        SimClient.Reply set = forge.post("/sdapi/v1/options", "{\"sd_model_checkpoint\":\"sub/b.ckpt\"}");

        assertThat(set.status()).isEqualTo(200);
        assertThat(set.text()).isEqualTo("null");
        assertThat(forge.get("/sdapi/v1/options")
                        .json()
                        .get("sd_model_checkpoint")
                        .stringValue())
                .isEqualTo("sub/b.ckpt");
        assertThat(new ForgeSimAdmin(sim.adminUrl()).state().loadedModel()).isNull();
        assertThat(forge.txt2img("{\"steps\":1,\"width\":16,\"height\":16}")
                        .info()
                        .get("sd_model_name")
                        .stringValue())
                .isEqualTo("b");
    }

    @Test
    void refusesAnUnknownCheckpointWithA500RuntimeError() {
        SimClient.Reply reply = forge.post("/sdapi/v1/options", "{\"sd_model_checkpoint\":\"nope\"}");

        assertThat(reply.status()).isEqualTo(500);
        assertThat(reply.text())
                .isEqualTo(
                        "{\"error\":\"RuntimeError\",\"detail\":\"\",\"body\":\"\",\"message\":\"model 'nope' not found\"}");
    }

    @Test
    void refusesAnUnknownOptionKeyWithAKeyErrorAndAcceptsKnownOnes() {
        SimClient.Reply unknown = forge.post("/sdapi/v1/options", "{\"bogus_option\":true}");
        SimClient.Reply known = forge.post("/sdapi/v1/options", "{\"CLIP_stop_at_last_layers\":2}");

        assertThat(unknown.status()).isEqualTo(500);
        assertThat(unknown.json().get("error").stringValue()).isEqualTo("KeyError");
        assertThat(known.status()).isEqualTo(200);
        assertThat(forge.txt2img("{\"steps\":1,\"width\":16,\"height\":16}")
                        .info()
                        .get("infotexts")
                        .get(0)
                        .stringValue())
                .contains("Clip skip: 2");
    }

    @Test
    void unloadsTheCheckpointSoTheNextJobLoadsItAgain() {
        ForgeSimAdmin admin = new ForgeSimAdmin(sim.adminUrl());
        forge.txt2img("{\"steps\":1,\"width\":16,\"height\":16}");

        SimClient.Reply unload = forge.post("/sdapi/v1/unload-checkpoint", "");
        forge.txt2img("{\"steps\":1,\"width\":16,\"height\":16}");

        assertThat(unload.text()).isEqualTo("{}");
        assertThat(admin.state().modelLoads()).isEqualTo(2);
    }

    @Test
    void describesMemoryInForgesShape() {
        JsonNode memory = forge.get("/sdapi/v1/memory").json();

        assertThat(memory.get("ram").propertyNames()).containsExactly("free", "used", "total");
        assertThat(memory.get("cuda").propertyNames())
                .containsExactly("system", "active", "allocated", "reserved", "inactive", "events");
        assertThat(memory.get("cuda").get("system").get("total").asLong()).isPositive();
    }

    @Test
    void answersUnknownPathsWith404WrongMethodsWith405AndATrailingSlashWithARedirect() {
        SimClient.Reply wrongMethod = forge.get("/sdapi/v1/txt2img");
        SimClient.Reply slash = forge.get("/sdapi/v1/samplers/");

        assertThat(forge.get("/nope").status()).isEqualTo(404);
        assertThat(forge.get("/sdapi/v1/img2img").status()).as("not simulated").isEqualTo(404);
        assertThat(wrongMethod.status()).isEqualTo(405);
        assertThat(wrongMethod.text()).isEqualTo("{\"detail\":\"Method Not Allowed\"}");
        assertThat(wrongMethod.headers().firstValue("allow")).hasValue("POST");
        assertThat(slash.status()).isEqualTo(307);
        assertThat(slash.headers().firstValue("location")).hasValue("/sdapi/v1/samplers");
    }
}
