package io.forgequeue.worker.forge;

import static org.assertj.core.api.Assertions.assertThat;

import io.forgequeue.model.ErrorCode;
import io.forgequeue.worker.system.WireJson;
import java.io.IOException;
import java.net.ConnectException;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.json.JsonMapper;

class ForgeErrorsTest {

    private final JsonMapper json = WireJson.newMapper();

    private ForgeException answer(int status, String body) {
        return ForgeErrors.fromResponse("txt2img", status, body.getBytes(StandardCharsets.UTF_8), json);
    }

    @Test
    void mapsMissingOrWrongCredentialsToAPermanentAuthFailure() {
        ForgeException e = answer(401, "{\"detail\":\"Not authenticated\"}");

        assertThat(e.failure()).isEqualTo(ForgeFailure.AUTH);
        assertThat(e.failure().code()).isEqualTo(ErrorCode.FORGE_AUTH);
        assertThat(e.forgeMessage()).isEqualTo("Not authenticated");
        assertThat(e.failure().isRetriedFailure()).isFalse();
        assertThat(e.failure().isOutage()).isFalse();
        assertThat(e.failure().countsForBreaker()).isFalse();
    }

    @Test
    void mapsA404OnTheApiToForgeStartedWithoutApi() {
        ForgeException e = answer(404, "{\"detail\":\"Not Found\"}");

        assertThat(e.failure()).isEqualTo(ForgeFailure.API_MISSING);
        assertThat(e.failure().code()).isEqualTo(ErrorCode.FORGE_API_MISSING);
    }

    @Test
    void mapsAPydanticV2ValidationErrorToRejectedNamingTheField() {
        ForgeException e = answer(422, """
                {"detail":[{"type":"int_parsing","loc":["body","steps"],"msg":"Input should be a valid integer",
                "input":"x"}]}""");

        assertThat(e.failure()).isEqualTo(ForgeFailure.REJECTED);
        assertThat(e.failure().code()).isEqualTo(ErrorCode.FORGE_REJECTED);
        assertThat(e.forgeMessage()).isEqualTo("steps: Input should be a valid integer");
        assertThat(e.failure().isRetriedFailure()).isFalse();
    }

    @Test
    void readsAStringDetailOfA422() {
        assertThat(answer(422, "{\"detail\":\"Script 'x' not found\"}").forgeMessage())
                .isEqualTo("Script 'x' not found");
    }

    @Test
    void mapsAForge500ByItsErrorTypeAndMessage() {
        ForgeException e = answer(
                500,
                "{\"error\":\"NansException\",\"detail\":\"\",\"body\":\"\","
                        + "\"message\":\"A tensor with all NaNs was produced in Unet.\"}");

        assertThat(e.failure()).isEqualTo(ForgeFailure.SERVER_ERROR);
        assertThat(e.failure().code()).isEqualTo(ErrorCode.FORGE_ERROR);
        assertThat(e.forgeError()).isEqualTo("NansException");
        assertThat(e.forgeMessage()).isEqualTo("A tensor with all NaNs was produced in Unet.");
        assertThat(e.httpStatus()).isEqualTo(500);
        assertThat(e.failure().isRetriedFailure()).isTrue();
        assertThat(e.failure().countsForBreaker())
                .as("a job failure, not a health problem")
                .isFalse();
    }

    @Test
    void readsTheErrorsKeyOfAnA1111Style500() {
        ForgeException e = answer(500, "{\"error\":\"KeyError\",\"detail\":\"\",\"body\":\"\",\"errors\":\"'foo'\"}");

        assertThat(e.failure()).isEqualTo(ForgeFailure.SERVER_ERROR);
        assertThat(e.forgeMessage()).isEqualTo("'foo'");
    }

    @Test
    void mapsOutOfMemoryErrorToItsOwnCodeWhichIsNotRetried() {
        ForgeException forge = answer(500, "{\"error\":\"OutOfMemoryError\",\"message\":\"CUDA out of memory.\"}");
        ForgeException a1111 = answer(500, "{\"error\":\"RuntimeError\",\"errors\":\"CUDA out of memory. Tried\"}");

        assertThat(forge.failure()).isEqualTo(ForgeFailure.OUT_OF_MEMORY);
        assertThat(forge.failure().code()).isEqualTo(ErrorCode.FORGE_OUT_OF_MEMORY);
        assertThat(forge.failure().isRetriedFailure()).isFalse();
        assertThat(a1111.failure()).isEqualTo(ForgeFailure.OUT_OF_MEMORY);
    }

    @Test
    void treatsANonJson500AsAGenericServerError() {
        ForgeException e = answer(500, "<html><body>Internal Server Error</body></html>");

        assertThat(e.failure()).isEqualTo(ForgeFailure.SERVER_ERROR);
        assertThat(e.forgeError()).isNull();
        assertThat(e.forgeMessage()).isNull();
        assertThat(e.getMessage()).doesNotContain("html");
    }

    @Test
    void treatsProxyErrorsAsAnOutageThatMayLeaveTheJobRunning() {
        for (int status : new int[] {502, 503, 504}) {
            ForgeException e = answer(status, "Bad Gateway");

            assertThat(e.failure()).as("HTTP %d", status).isEqualTo(ForgeFailure.UNAVAILABLE);
            assertThat(e.failure().isOutage()).isTrue();
            assertThat(e.failure().countsForBreaker()).isTrue();
            assertThat(e.mayStillRun()).isTrue();
        }
    }

    @Test
    void treatsConnectionRefusedAsAnOutageThatLeftNothingRunning() {
        ForgeException refused = ForgeErrors.fromIo("txt2img", new ConnectException("Connection refused"), true);
        ForgeException connectTimeout = ForgeErrors.fromIo("txt2img", new HttpConnectTimeoutException("slow"), true);

        assertThat(refused.failure()).isEqualTo(ForgeFailure.UNAVAILABLE);
        assertThat(refused.mayStillRun()).isFalse();
        assertThat(connectTimeout.failure()).isEqualTo(ForgeFailure.UNAVAILABLE);
        assertThat(connectTimeout.mayStillRun()).isFalse();
    }

    @Test
    void treatsAReadTimeoutAsATimeoutThatMayLeaveTheJobRunning() {
        ForgeException e = ForgeErrors.fromIo("txt2img", new HttpTimeoutException("request timed out"), true);

        assertThat(e.failure()).isEqualTo(ForgeFailure.TIMEOUT);
        assertThat(e.failure().code()).isEqualTo(ErrorCode.FORGE_TIMEOUT);
        assertThat(e.mayStillRun()).isTrue();
        assertThat(e.failure().isRetriedFailure()).isTrue();
        assertThat(e.failure().countsForBreaker()).isTrue();
    }

    @Test
    void treatsADroppedConnectionAsAnOutageThatMayLeaveTheJobRunning() {
        ForgeException e = ForgeErrors.fromIo("txt2img", new IOException("Connection reset"), true);

        assertThat(e.failure()).isEqualTo(ForgeFailure.UNAVAILABLE);
        assertThat(e.mayStillRun()).isTrue();
    }

    // Issue 19: Forge behind HTTPS with a certificate the worker does not trust.
    @Test
    void treatsAFailedTlsHandshakeAsAnOutageThatNeverReachedForgeAndSaysWhatToCheck() {
        ForgeException e = ForgeErrors.fromIo("progress", new SSLHandshakeException("PKIX path building failed"), true);
        ForgeException wrapped = ForgeErrors.fromIo(
                "txt2img",
                new IOException("handshake", new SSLHandshakeException("No subject alternative names")),
                true);

        assertThat(e.failure())
                .as("the job goes back to the queue, it never fails for it")
                .isEqualTo(ForgeFailure.UNAVAILABLE);
        assertThat(e.failure().isOutage()).isTrue();
        assertThat(e.mayStillRun())
                .as("the request is sent only after the handshake")
                .isFalse();
        assertThat(e.getMessage())
                .contains(
                        "TLS handshake failed",
                        "PKIX path building failed",
                        "worker.forge.ssl-bundle",
                        "worker.forge.url");
        assertThat(wrapped.failure()).isEqualTo(ForgeFailure.UNAVAILABLE);
        assertThat(wrapped.getMessage()).contains("TLS handshake failed");
    }

    @Test
    void shortensLongForgeTextsToOneLine() {
        String longMessage = "line\n".repeat(200);

        ForgeException e =
                answer(500, "{\"error\":\"RuntimeError\",\"message\":\"" + longMessage.replace("\n", "\\n") + "\"}");

        assertThat(e.forgeMessage())
                .hasSizeLessThanOrEqualTo(ForgeErrors.MAX_TEXT)
                .doesNotContain("\n");
    }
}
