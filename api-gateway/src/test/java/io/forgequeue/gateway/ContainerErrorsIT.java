package io.forgequeue.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * Requests refused before a controller sees them (a body that is not UTF-8, a URL Tomcat rejects) are answered like
 * every other error: an RFC 9457 problem with a stable {@code code}, nothing stored, never an HTML page.
 */
class ContainerErrorsIT extends IntegrationTestBase {

    private static final HttpClient HTTP = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();

    private HttpResponse<byte[]> postBytes(String key, byte[] body) throws Exception {
        return HTTP.send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/v1/jobs"))
                        .header("Authorization", "Bearer " + key)
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofByteArray(body))
                        .timeout(Duration.ofSeconds(20))
                        .build(),
                HttpResponse.BodyHandlers.ofByteArray());
    }

    private static byte[] jobWithPromptBytes(String pool, byte[] middle) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(("{\"pool\":\"" + pool + "\",\"prompt\":\"a ").getBytes(StandardCharsets.UTF_8));
        out.writeBytes(middle);
        out.writeBytes(" fox\",\"width\":512,\"height\":512,\"steps\":20}".getBytes(StandardCharsets.UTF_8));
        return out.toByteArray();
    }

    /** Sends one raw HTTP/1.1 request (any request line) and returns status line, headers and body as text. */
    private String raw(String method, String target, String key) throws IOException {
        try (Socket socket = new Socket("127.0.0.1", port)) {
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            out.write((method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + key
                            + "\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            InputStream in = socket.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static void assertProblem(int status, String contentType, String body, String code) {
        assertThat(contentType).as(body).startsWith("application/problem+json");
        JsonNode problem = Api.JSON.readTree(body);
        assertThat(problem.path("status").asInt()).isEqualTo(status);
        assertThat(problem.path("code").asString()).isEqualTo(code);
        assertThat(problem.path("type").asString()).endsWith("/problems/" + code);
        assertThat(problem.path("title").asString()).isNotBlank();
        assertThat(body.toLowerCase(Locale.ROOT))
                .doesNotContain("exception")
                .doesNotContain("tomcat")
                .doesNotContain("<html");
    }

    @Test
    void aBodyThatIsNotWellFormedUtf8IsRefusedAsMalformedAndNothingIsStored() throws Exception {
        String key = newKey();
        String pool = newPool();
        List<byte[]> illFormed = List.of(
                new byte[] {(byte) 0xC0, (byte) 0xAF}, // overlong '/', Jackson decoded it
                new byte[] {(byte) 0xE0, (byte) 0x80, (byte) 0xAF}, // overlong '/' in three bytes
                new byte[] {(byte) 0xF0, (byte) 0x80, (byte) 0x80, (byte) 0xAF}, // ... and in four
                new byte[] {(byte) 0xED, (byte) 0xA0, (byte) 0x80}, // a UTF-16 surrogate, encoded
                new byte[] {(byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80}, // above U+10FFFF
                new byte[] {(byte) 0xF8, (byte) 0x88, (byte) 0x80, (byte) 0x80, (byte) 0x80},
                new byte[] {(byte) 0x80}, // a stray continuation byte
                new byte[] {(byte) 0xE2, (byte) 0x82}); // cut off by the closing quote

        for (byte[] middle : illFormed) {
            HttpResponse<byte[]> response = postBytes(key, jobWithPromptBytes(pool, middle));

            String body = new String(response.body(), StandardCharsets.UTF_8);
            assertThat(response.statusCode()).as(body).isEqualTo(400);
            assertProblem(400, response.headers().firstValue("Content-Type").orElse(""), body, "malformed-request");
            assertThat(body).contains("not valid UTF-8");
        }
        assertThat(jdbc.queryForObject("select count(*) from job where pool = ?", Long.class, pool))
                .isZero();
    }

    @Test
    void wellFormedMultiByteCharactersStillPass() throws Exception {
        String key = newKey();
        String pool = newPool();

        HttpResponse<byte[]> response = postBytes(
                key, jobWithPromptBytes(pool, "\u00e9t\u00e9 \u72d0 \uD83E\uDD8A".getBytes(StandardCharsets.UTF_8)));

        assertThat(response.statusCode())
                .as(new String(response.body(), StandardCharsets.UTF_8))
                .isEqualTo(202);
        assertThat(Api.JSON
                        .readTree(response.body())
                        .path("spec")
                        .path("prompt")
                        .asString())
                .isEqualTo("a \u00e9t\u00e9 \u72d0 \uD83E\uDD8A fox");
    }

    @Test
    void urlsTomcatRefusesAreAnsweredWithAProblemNotAnHtmlPageAndReachNoJob() throws Exception {
        String key = newKey();
        UUID id = api().submit(key, Api.job(newPool(), "must survive")).id();

        for (String target : List.of(
                "/api/v1/jobs/..%2F..%2Fetc",
                "/api/v1/jobs/..%2f" + id,
                "/api/v1/jobs/x%5C..%5C" + id,
                "/api/v1/jobs/%zz",
                "/api/v1/jobs/%C0%AF",
                "/api/v1/jobs/a%00b",
                "/api/v1/../../../etc/passwd")) {
            String answer = raw("DELETE", target, key);
            int status = Integer.parseInt(answer.substring(9, 12));
            String head = answer.substring(0, answer.indexOf("\r\n\r\n"));
            String body = answer.substring(answer.indexOf("\r\n\r\n") + 4);
            String contentType = head.lines()
                    .filter(l -> l.toLowerCase(Locale.ROOT).startsWith("content-type:"))
                    .map(l -> l.substring(13).trim())
                    .findFirst()
                    .orElse("");

            assertThat(status).as(target + " -> " + answer).isBetween(400, 404);
            assertProblem(
                    status,
                    contentType,
                    body.contains("{") ? body.substring(body.indexOf('{'), body.lastIndexOf('}') + 1) : body,
                    status == 400
                            ? "malformed-request"
                            : status == 401
                                    ? "unauthorized"
                                    : status == 404
                                            ? (body.contains("job-not-found") ? "job-not-found" : "not-found")
                                            : "?");
        }
        assertThat(api().get(key, "/api/v1/jobs/" + id).json().path("status").asString())
                .isEqualTo("QUEUED");
    }
}
