package io.forgequeue.systemtest;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * A small HTTP client for the gateway's public API, returning status, headers and the JSON body. The plain methods
 * throw when no answer arrives; the {@code attempt...} methods return an {@link Answer} with status 0 instead
 * (connection refused or dropped, timeout), for clients that retry.
 */
final class Http {

    static final JsonMapper JSON = JsonMapper.builder().build();
    private static final HttpClient CLIENT = HttpClient.newBuilder()
            .connectTimeout(Duration.ofSeconds(3))
            .version(HttpClient.Version.HTTP_1_1)
            .build();

    /** One answer: status (0 = no answer), headers, raw body and (when JSON) the parsed body. */
    record Answer(int status, Map<String, List<String>> headers, byte[] bytes) {

        static Answer none(String why) {
            return new Answer(0, Map.of(), why.getBytes(StandardCharsets.UTF_8));
        }

        JsonNode json() {
            return JSON.readTree(bytes);
        }

        String text() {
            return new String(bytes, StandardCharsets.UTF_8);
        }

        String header(String name) {
            return headers.entrySet().stream()
                    .filter(e -> e.getKey().equalsIgnoreCase(name))
                    .map(e -> e.getValue().get(0))
                    .findFirst()
                    .orElse(null);
        }

        /** Whether no HTTP answer arrived at all. */
        boolean noAnswer() {
            return status == 0;
        }

        @Override
        public String toString() {
            return status + " " + text();
        }
    }

    private final String baseUrl;
    private final String apiKey;
    private final Duration timeout;

    Http(String baseUrl, String apiKey) {
        this(baseUrl, apiKey, Duration.ofSeconds(15));
    }

    private Http(String baseUrl, String apiKey, Duration timeout) {
        this.baseUrl = baseUrl;
        this.apiKey = apiKey;
        this.timeout = timeout;
    }

    Http withKey(String key) {
        return new Http(baseUrl, key, timeout);
    }

    Http withTimeout(Duration requestTimeout) {
        return new Http(baseUrl, apiKey, requestTimeout);
    }

    String baseUrl() {
        return baseUrl;
    }

    Answer get(String path) {
        return send(request(path).GET().build());
    }

    Answer delete(String path) {
        return send(request(path).DELETE().build());
    }

    Answer post(String path, Object body) {
        return send(jsonPost(path, body, Map.of()));
    }

    /** Like {@link #get} but status 0 instead of an exception when no answer arrives. */
    Answer attemptGet(String path) {
        return attempt(request(path).GET().build());
    }

    Answer attemptDelete(String path) {
        return attempt(request(path).DELETE().build());
    }

    /** A JSON POST with extra headers (e.g. Idempotency-Key); status 0 when no answer arrives. */
    Answer attemptPost(String path, Object body, Map<String, String> headers) {
        return attempt(jsonPost(path, body, headers));
    }

    /**
     * Any request, byte for byte: {@code contentType} null sends no Content-Type, {@code body} null sends none. Status
     * 0 when no answer arrives.
     */
    Answer raw(String method, String path, String contentType, byte[] body, Map<String, String> headers) {
        HttpRequest.Builder b = request(path);
        if (contentType != null) {
            b.header("Content-Type", contentType);
        }
        headers.forEach(b::header);
        b.method(
                method,
                body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
        return attempt(b.build());
    }

    /** A POST whose body is sent chunked (no Content-Length), as a streaming client would. */
    Answer rawChunked(String path, String contentType, Supplier<InputStream> body) {
        HttpRequest.Builder b =
                request(path).header("Content-Type", contentType).POST(HttpRequest.BodyPublishers.ofInputStream(body));
        return attempt(b.build());
    }

    private HttpRequest jsonPost(String path, Object body, Map<String, String> headers) {
        String text = body instanceof String s ? s : JSON.writeValueAsString(body);
        HttpRequest.Builder b = request(path)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(text));
        headers.forEach(b::header);
        return b.build();
    }

    private HttpRequest.Builder request(String path) {
        HttpRequest.Builder b =
                HttpRequest.newBuilder(URI.create(baseUrl + path)).timeout(timeout);
        if (apiKey != null) {
            b.header("Authorization", "Bearer " + apiKey);
        }
        return b;
    }

    private static Answer send(HttpRequest request) {
        try {
            HttpResponse<byte[]> r = CLIENT.send(request, HttpResponse.BodyHandlers.ofByteArray());
            return new Answer(r.statusCode(), r.headers().map(), r.body());
        } catch (IOException e) {
            throw new IllegalStateException(request.method() + " " + request.uri() + " failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static Answer attempt(HttpRequest request) {
        try {
            HttpResponse<byte[]> r = CLIENT.send(request, HttpResponse.BodyHandlers.ofByteArray());
            return new Answer(r.statusCode(), r.headers().map(), r.body());
        } catch (IOException e) {
            return Answer.none(request.method() + " " + request.uri() + ": " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
