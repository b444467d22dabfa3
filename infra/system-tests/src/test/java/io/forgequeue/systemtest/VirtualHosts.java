package io.forgequeue.systemtest;

import io.forgequeue.testsupport.RabbitEndpoint;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Base64;

/**
 * Creates and deletes virtual hosts through RabbitMQ's management API over HTTP/1.1. With the JDK client's default
 * (HTTP/2 with an h2c upgrade attempt), a PUT that is the first request on a new connection (a fresh node, or after
 * the idle connection was closed) is dropped by the management API and fails with "EOF reached while reading"; the
 * harness's {@code RabbitEndpoint.withFreshVirtualHost} uses HTTP/1.1 as well since issue 15. Names follow the
 * harness's pattern ({@code <prefix>_fq<pid>_<6 chars>}), so its sweeper removes those of ended JVMs.
 */
final class VirtualHosts {

    private static final HttpClient CLIENT = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
    private static final String ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";
    private static final SecureRandom RANDOM = new SecureRandom();

    private VirtualHosts() {}

    /**
     * A new virtual host on {@code broker} with all permissions for its user and the firehose on (every message
     * published in it is also copied to {@code amq.rabbitmq.trace}, which {@link BrokerObserver} reads); the endpoint
     * for it.
     */
    static RabbitEndpoint createFresh(RabbitEndpoint broker, String prefix) {
        StringBuilder suffix = new StringBuilder();
        for (int i = 0; i < 6; i++) {
            suffix.append(ALPHABET.charAt(RANDOM.nextInt(ALPHABET.length())));
        }
        String clean = prefix.replaceAll("[^A-Za-z0-9._-]", "-");
        String name = (clean.length() > 40 ? clean.substring(0, 40) : clean) + "_fq"
                + ProcessHandle.current().pid() + "_" + suffix;
        String vhost = URLEncoder.encode(name, StandardCharsets.UTF_8);
        send(broker, "PUT", "/vhosts/" + vhost, "{\"tracing\":true}");
        send(
                broker,
                "PUT",
                "/permissions/" + vhost + "/" + URLEncoder.encode(broker.username(), StandardCharsets.UTF_8),
                "{\"configure\":\".*\",\"write\":\".*\",\"read\":\".*\"}");
        return new RabbitEndpoint(
                broker.host(), broker.port(), broker.username(), broker.password(), broker.managementPort(), name);
    }

    /**
     * Turns the firehose of the endpoint's virtual host on (again): a node keeps that setting only while it runs, so
     * after a restart it is off until set again.
     */
    static void enableTracing(RabbitEndpoint endpoint) {
        send(
                endpoint,
                "PUT",
                "/vhosts/" + URLEncoder.encode(endpoint.virtualHost(), StandardCharsets.UTF_8),
                "{\"tracing\":true}");
    }

    /** Deletes the endpoint's virtual host (and everything in it); quietly does nothing when that fails. */
    static void delete(RabbitEndpoint endpoint) {
        try {
            send(
                    endpoint,
                    "DELETE",
                    "/vhosts/" + URLEncoder.encode(endpoint.virtualHost(), StandardCharsets.UTF_8),
                    null);
        } catch (IllegalStateException e) {
            // the broker is gone or the vhost was removed already: the harness's sweeper cleans up
        }
    }

    private static void send(RabbitEndpoint broker, String method, String path, String json) {
        String host = broker.host().indexOf(':') >= 0 ? "[" + broker.host() + "]" : broker.host();
        URI uri = URI.create("http://" + host + ":" + broker.managementPort() + "/api" + path);
        String auth = "Basic "
                + Base64.getEncoder()
                        .encodeToString((broker.username() + ":" + broker.password()).getBytes(StandardCharsets.UTF_8));
        HttpRequest.Builder b =
                HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30)).header("Authorization", auth);
        if (json != null) {
            b.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(json));
        } else {
            b.method(method, HttpRequest.BodyPublishers.noBody());
        }
        try {
            int status = CLIENT.send(b.build(), HttpResponse.BodyHandlers.discarding())
                    .statusCode();
            if (status != 201 && status != 204 && !(method.equals("DELETE") && status == 404)) {
                throw new IllegalStateException(method + " " + uri + " answered " + status);
            }
        } catch (IOException e) {
            throw new IllegalStateException(method + " " + uri + " failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
