package io.forgequeue.testsupport;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The few calls of RabbitMQ's management HTTP API the harness needs (java.net.http, no JSON library). */
final class RabbitManagementClient {

    private static final HttpClient HTTP = newHttpClient();
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static final Pattern NAME = Pattern.compile("\"name\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"");

    private final HttpClient http;
    private final String baseUrl;
    private final String authorization;
    private final String description;

    RabbitManagementClient(RabbitEndpoint endpoint) {
        this(endpoint, HTTP);
    }

    RabbitManagementClient(RabbitEndpoint endpoint, HttpClient http) {
        this.http = http;
        String host = endpoint.host().indexOf(':') >= 0 ? "[" + endpoint.host() + "]" : endpoint.host();
        this.baseUrl = "http://" + host + ":" + endpoint.managementPort() + "/api";
        this.authorization = "Basic "
                + Base64.getEncoder()
                        .encodeToString(
                                (endpoint.username() + ":" + endpoint.password()).getBytes(StandardCharsets.UTF_8));
        this.description = "management API " + baseUrl;
    }

    /**
     * The client the harness uses: HTTP/1.1. With the JDK's default (HTTP/2 over an h2c upgrade) the management API
     * drops a PUT that is the first request on a new connection ("EOF reached while reading"), so a test JVM would
     * fail to create its virtual host whenever its connection had been closed.
     */
    static HttpClient newHttpClient() {
        return HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5))
                .build();
    }

    /** Fails unless the API answers {@code /overview} with 200 for these credentials. */
    void checkReachable() {
        send("GET", "/overview", null, 200);
    }

    void createVirtualHost(String name) {
        send("PUT", "/vhosts/" + encode(name), "{}", 201, 204);
    }

    void grantAllPermissions(String virtualHost, String user) {
        send(
                "PUT",
                "/permissions/" + encode(virtualHost) + "/" + encode(user),
                "{\"configure\":\".*\",\"write\":\".*\",\"read\":\".*\"}",
                201,
                204);
    }

    /** Creates (or updates) a user with no tags: it may use AMQP, not the management API. */
    void createUser(String user, String password) {
        send("PUT", "/users/" + encode(user), "{\"password\":\"" + json(password) + "\",\"tags\":\"\"}", 201, 204);
    }

    void deleteUser(String user) {
        send("DELETE", "/users/" + encode(user), null, 204, 404);
    }

    void setPermissions(String virtualHost, String user, String configure, String write, String read) {
        send(
                "PUT",
                "/permissions/" + encode(virtualHost) + "/" + encode(user),
                "{\"configure\":\"" + json(configure) + "\",\"write\":\"" + json(write) + "\",\"read\":\"" + json(read)
                        + "\"}",
                201,
                204);
    }

    void setTopicPermissions(String virtualHost, String user, String exchange, String write, String read) {
        send(
                "PUT",
                "/topic-permissions/" + encode(virtualHost) + "/" + encode(user),
                "{\"exchange\":\"" + json(exchange) + "\",\"write\":\"" + json(write) + "\",\"read\":\"" + json(read)
                        + "\"}",
                201,
                204);
    }

    List<String> virtualHostNames() {
        String body = send("GET", "/vhosts?columns=name", null, 200);
        List<String> names = new ArrayList<>();
        Matcher matcher = NAME.matcher(body);
        while (matcher.find()) {
            names.add(matcher.group(1).replace("\\\"", "\"").replace("\\\\", "\\"));
        }
        return names;
    }

    void deleteVirtualHost(String name) {
        send("DELETE", "/vhosts/" + encode(name), null, 204, 404);
    }

    /** JSON text of one queue, e.g. to check its {@code "type"}. */
    String queue(String virtualHost, String queue) {
        return send("GET", "/queues/" + encode(virtualHost) + "/" + encode(queue), null, 200);
    }

    private String send(String method, String path, String json, int... expected) {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(baseUrl + path))
                .timeout(TIMEOUT)
                .header("Authorization", authorization);
        if (json != null) {
            request.header("Content-Type", "application/json")
                    .method(method, HttpRequest.BodyPublishers.ofString(json));
        } else {
            request.method(method, HttpRequest.BodyPublishers.noBody());
        }
        HttpResponse<String> response;
        try {
            try {
                response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
            } catch (IOException first) {
                // once more on a new connection: a kept-alive one may have been closed by the server meanwhile (every
                // call here is idempotent)
                response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
            }
        } catch (IOException e) {
            throw new IllegalStateException(description + ": " + method + " " + path + " failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(description + ": interrupted", e);
        }
        for (int status : expected) {
            if (response.statusCode() == status) {
                return response.body();
            }
        }
        String body = response.body();
        throw new IllegalStateException(description + ": " + method + " " + path + " answered " + response.statusCode()
                + ": " + (body.length() > 300 ? body.substring(0, 300) : body));
    }

    /** A JSON string's content: backslashes and quotes escaped (regexes are full of backslashes). */
    private static String json(String text) {
        return text.replace("\\", "\\\\").replace("\"", "\\\"");
    }

    private static String encode(String segment) {
        return URLEncoder.encode(segment, StandardCharsets.UTF_8).replace("+", "%20");
    }
}
