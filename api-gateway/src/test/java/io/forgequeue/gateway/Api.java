package io.forgequeue.gateway;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.UUID;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** A small HTTP client for the gateway's REST API in tests. */
final class Api {

    static final JsonMapper JSON = JsonMapper.builder().build();
    private static final HttpClient HTTP = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();

    private final String base;

    Api(int port) {
        this.base = "http://127.0.0.1:" + port;
    }

    record Response(int status, HttpResponse<byte[]> raw) {
        JsonNode json() {
            return JSON.readTree(raw.body());
        }

        String header(String name) {
            return raw.headers().firstValue(name).orElse(null);
        }

        String text() {
            return new String(raw.body(), java.nio.charset.StandardCharsets.UTF_8);
        }

        UUID id() {
            return UUID.fromString(json().get("id").asString());
        }
    }

    Response get(String key, String path, String... headers) {
        return send(key, "GET", path, null, "application/json", headers);
    }

    Response delete(String key, String path) {
        return send(key, "DELETE", path, null, "application/json");
    }

    Response post(String key, String path, String body, String... headers) {
        return send(key, "POST", path, body, "application/json", headers);
    }

    Response submit(String key, String body) {
        return post(key, "/api/v1/jobs", body);
    }

    Response send(String key, String method, String path, String body, String contentType, String... headers) {
        HttpRequest.Builder request =
                HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(20));
        if (key != null) {
            request.header("Authorization", "Bearer " + key);
        }
        if (body != null) {
            request.header("Content-Type", contentType);
        }
        for (int i = 0; i + 1 < headers.length; i += 2) {
            request.header(headers[i], headers[i + 1]);
        }
        request.method(
                method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        try {
            HttpResponse<byte[]> response = HTTP.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
            return new Response(response.statusCode(), response);
        } catch (IOException e) {
            throw new IllegalStateException(method + " " + path + " failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** A valid job body for {@code pool}. */
    static String job(String pool, String prompt) {
        return """
                {"pool":"%s","prompt":"%s","width":512,"height":512,"steps":20,"sampler":"Euler a","seed":42}""".formatted(pool, prompt);
    }

    /**
     * A valid job body for {@code pool} with more or other fields, e.g. {@code "priority":"high"} or
     * {@code "checkpoint":"x","sampler":"DPM++ 2M"} (they replace the defaults).
     */
    static String job(String pool, String prompt, String moreFields) {
        tools.jackson.databind.node.ObjectNode body =
                (tools.jackson.databind.node.ObjectNode) JSON.readTree(job(pool, prompt));
        body.setAll((tools.jackson.databind.node.ObjectNode) JSON.readTree("{" + moreFields + "}"));
        return body.toString();
    }
}
