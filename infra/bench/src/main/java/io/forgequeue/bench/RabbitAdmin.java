package io.forgequeue.bench;

import io.forgequeue.testsupport.RabbitEndpoint;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import tools.jackson.databind.JsonNode;

/** The few calls of RabbitMQ's management API the benchmark needs: queue depths, version, virtual hosts. */
final class RabbitAdmin {

    private static final HttpClient HTTP = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(3))
            .build();

    private final String baseUrl;
    private final String authorization;

    RabbitAdmin(RabbitEndpoint endpoint) {
        this.baseUrl = "http://" + endpoint.host() + ":" + endpoint.managementPort() + "/api";
        this.authorization = "Basic "
                + Base64.getEncoder()
                        .encodeToString(
                                (endpoint.username() + ":" + endpoint.password()).getBytes(StandardCharsets.UTF_8));
    }

    /** Messages in each queue of a virtual host (ready + unacknowledged), by queue name. */
    Map<String, Long> queueDepths(String vhost) {
        Map<String, Long> out = new LinkedHashMap<>();
        JsonNode queues = get("/queues/" + encode(vhost) + "?columns=name,messages,messages_ready");
        for (JsonNode q : queues) {
            out.put(q.path("name").asString(""), q.path("messages").asLong(0));
        }
        return out;
    }

    String rabbitVersion() {
        return get("/overview").path("rabbitmq_version").asString("?");
    }

    String erlangVersion() {
        return get("/overview").path("erlang_version").asString("?");
    }

    void createVhost(String vhost, String user) {
        send("PUT", "/vhosts/" + encode(vhost), "{}");
        send(
                "PUT",
                "/permissions/" + encode(vhost) + "/" + encode(user),
                "{\"configure\":\".*\",\"write\":\".*\",\"read\":\".*\"}");
    }

    void deleteVhost(String vhost) {
        send("DELETE", "/vhosts/" + encode(vhost), null);
    }

    private JsonNode get(String path) {
        return Json.MAPPER.readTree(send("GET", path, null));
    }

    private String send(String method, String path, String body) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(baseUrl + path))
                .timeout(Duration.ofSeconds(10))
                .header("Authorization", authorization);
        if (body != null) {
            b.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(body));
        } else {
            b.method(method, HttpRequest.BodyPublishers.noBody());
        }
        try {
            HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() >= 300 && !(method.equals("DELETE") && r.statusCode() == 404)) {
                throw new IllegalStateException(
                        "management API " + method + " " + path + " answered " + r.statusCode());
            }
            return r.body();
        } catch (IOException e) {
            throw new IllegalStateException("management API " + method + " " + path + " failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    static String encode(String segment) {
        return URLEncoder.encode(segment, StandardCharsets.UTF_8).replace("+", "%20");
    }
}
