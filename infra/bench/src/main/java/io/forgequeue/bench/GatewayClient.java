package io.forgequeue.bench;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import tools.jackson.databind.JsonNode;

/** A client of the gateway's public REST API (HTTP/1.1, keep-alive), as an application would use it. */
final class GatewayClient implements AutoCloseable {

    /**
     * The answer to {@code POST /api/v1/jobs}: status, the job's id and view (with its position and ETA then) when
     * accepted (202), else the body.
     */
    record Submitted(int status, UUID jobId, String body, JsonNode job) {
        boolean accepted() {
            return status == 202 && jobId != null;
        }
    }

    private final String baseUrl;
    /** The gateway's actuator (its management port): every {@code /actuator/...} path goes there. */
    private final String managementUrl;

    private final List<String> apiKeys;
    private final String apiKey;
    private final AtomicInteger next = new AtomicInteger();
    private final ExecutorService executor;
    private final HttpClient http;

    /** Submissions rotate over {@code apiKeys}; everything else uses the first. */
    GatewayClient(String baseUrl, String managementUrl, List<String> apiKeys) {
        this.baseUrl = baseUrl;
        this.managementUrl = managementUrl;
        this.apiKeys = List.copyOf(apiKeys);
        this.apiKey = apiKeys.get(0);
        this.executor = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "bench-http");
            t.setDaemon(true);
            return t;
        });
        this.http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .executor(executor)
                .connectTimeout(Duration.ofSeconds(5))
                .build();
    }

    String baseUrl() {
        return baseUrl;
    }

    String apiKey() {
        return apiKey;
    }

    /** A small txt2img job: 64x64, {@code steps} steps, fixed seed. */
    static Map<String, Object> job(String prompt, int steps) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("prompt", prompt);
        body.put("width", 64);
        body.put("height", 64);
        body.put("steps", steps);
        body.put("seed", 1234);
        return body;
    }

    Submitted submit(Map<String, Object> body) {
        return submitAsync(body).join();
    }

    /** Submits with the next API key in turn. */
    CompletableFuture<Submitted> submitAsync(Map<String, Object> body) {
        return submitAsync(body, apiKeys.get(Math.floorMod(next.getAndIncrement(), apiKeys.size())));
    }

    CompletableFuture<Submitted> submitAsync(Map<String, Object> body, String key) {
        HttpRequest request = request("/api/v1/jobs", key)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(Json.MAPPER.writeValueAsBytes(body)))
                .build();
        return http.sendAsync(request, HttpResponse.BodyHandlers.ofString()).thenApply(r -> {
            if (r.statusCode() != 202) {
                return new Submitted(r.statusCode(), null, r.body(), null);
            }
            JsonNode job = Json.MAPPER.readTree(r.body());
            return new Submitted(r.statusCode(), UUID.fromString(job.path("id").asString()), null, job);
        });
    }

    JsonNode get(String path) {
        return get(path, apiKey);
    }

    /** GET with {@code key}; null when the answer is 404. */
    JsonNode get(String path, String key) {
        try {
            HttpResponse<String> r = http.send(request(path, key).GET().build(), HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() == 404) {
                return null;
            }
            if (r.statusCode() != 200) {
                throw new IllegalStateException("GET " + path + " answered " + r.statusCode() + ": " + r.body());
            }
            return Json.MAPPER.readTree(r.body());
        } catch (IOException e) {
            throw new IllegalStateException("GET " + path + " failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** A value of the gateway's actuator metrics endpoint (e.g. jvm.memory.used, tag area:heap), or -1. */
    double metric(String name, String tag) {
        try {
            JsonNode m = get("/actuator/metrics/" + name + (tag == null ? "" : "?tag=" + tag));
            if (m == null) {
                return -1;
            }
            return m.path("measurements").path(0).path("value").asDouble(-1);
        } catch (RuntimeException e) {
            return -1;
        }
    }

    private HttpRequest.Builder request(String path, String key) {
        String base = path.startsWith("/actuator") ? managementUrl : baseUrl;
        return HttpRequest.newBuilder(URI.create(base + path))
                .timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + key);
    }

    List<String> apiKeys() {
        return apiKeys;
    }

    @Override
    public void close() {
        executor.shutdownNow();
    }
}
