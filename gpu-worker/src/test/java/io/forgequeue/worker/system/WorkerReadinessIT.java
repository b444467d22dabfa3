package io.forgequeue.worker.system;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.forgequeue.testsupport.RabbitEndpoint;
import io.forgequeue.testsupport.TestInfrastructure;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * Readiness follows the broker: DOWN while the worker's virtual host is gone (RabbitMQ closes every connection
 * to it and refuses new ones), UP again once it is back. The shared test broker itself keeps running.
 */
@SpringBootTest(
        webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"worker.id=readiness-it", "worker.forge.url=http://127.0.0.1:9"})
class WorkerReadinessIT {

    private static final RabbitEndpoint RABBIT = TestInfrastructure.rabbit().withFreshVirtualHost("worker-ready");

    static {
        declareGatewayExchanges();
    }

    /** The exchanges a gateway declares (the worker waits for them at start, SharedTopologyGate, and binds to them). */
    private static void declareGatewayExchanges() {
        try (var connection = RABBIT.connectionFactory().newConnection("readiness-it-topology");
                var channel = connection.createChannel()) {
            channel.exchangeDeclare(io.forgequeue.model.Topology.JOBS_DEAD_LETTER_EXCHANGE, "direct", true);
            channel.exchangeDeclare(io.forgequeue.model.Topology.EVENTS_EXCHANGE, "topic", true);
            channel.exchangeDeclare(io.forgequeue.model.Topology.CONTROL_EXCHANGE, "fanout", true);
        } catch (Exception e) {
            throw new IllegalStateException("could not declare the gateway's exchanges", e);
        }
    }

    private static final HttpClient HTTP = HttpClient.newHttpClient();

    @DynamicPropertySource
    static void broker(DynamicPropertyRegistry registry) {
        TestInfrastructure.springProperties(RABBIT, null).forEach((name, value) -> registry.add(name, () -> value));
    }

    @LocalServerPort
    int port;

    @Test
    void isNotReadyWhileTheBrokerIsUnreachableAndReadyAgainWhenItIsBack() {
        await().atMost(Duration.ofSeconds(20)).until(() -> readiness() == 200);

        management("DELETE", "/api/vhosts/" + vhost(), null);

        await().atMost(Duration.ofSeconds(30)).until(() -> readiness() == 503);
        assertThat(get("/actuator/health/liveness").statusCode())
                .as("alive all the same")
                .isEqualTo(200);

        management("PUT", "/api/vhosts/" + vhost(), "{}");
        management(
                "PUT",
                "/api/permissions/" + vhost() + "/" + enc(RABBIT.username()),
                "{\"configure\":\".*\",\"write\":\".*\",\"read\":\".*\"}");
        declareGatewayExchanges(); // as the gateways do when they reconnect

        await().atMost(Duration.ofSeconds(60)).until(() -> readiness() == 200);
    }

    private int readiness() {
        return get("/actuator/health/readiness").statusCode();
    }

    private HttpResponse<String> get(String path) {
        return send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(10))
                .build());
    }

    private static void management(String method, String path, String body) {
        HttpRequest.Builder b = HttpRequest.newBuilder(
                        URI.create("http://" + RABBIT.host() + ":" + RABBIT.managementPort() + path))
                .timeout(Duration.ofSeconds(10))
                .header(
                        "Authorization",
                        "Basic "
                                + Base64.getEncoder()
                                        .encodeToString((RABBIT.username() + ":" + RABBIT.password())
                                                .getBytes(StandardCharsets.UTF_8)))
                .header("Content-Type", "application/json")
                .method(
                        method,
                        body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        int status = send(b.build()).statusCode();
        assertThat(status).as("%s %s", method, path).isBetween(200, 299);
    }

    private static HttpResponse<String> send(HttpRequest request) {
        try {
            return HTTP.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static String vhost() {
        return enc(RABBIT.virtualHost());
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }
}
