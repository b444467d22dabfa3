package io.forgequeue.gateway;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.GetResponse;
import io.forgequeue.model.Topology;
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
import java.util.concurrent.TimeoutException;

/**
 * Test access to the broker: a plain AMQP channel (publish events of a made-up assignment, read cancel commands)
 * and the management API (delete and re-create a virtual host to simulate an outage). Workers that take jobs from
 * the scheduler are {@link TestWorker}s, each on a connection of its own.
 */
final class Broker implements AutoCloseable {

    private final RabbitEndpoint endpoint;
    private Connection connection;
    private Channel channel;

    Broker(RabbitEndpoint endpoint) {
        this.endpoint = endpoint;
    }

    synchronized Channel channel() {
        try {
            if (channel == null || !channel.isOpen()) {
                if (connection == null || !connection.isOpen()) {
                    var factory = endpoint.connectionFactory();
                    factory.setAutomaticRecoveryEnabled(false);
                    connection = factory.newConnection("gateway-it");
                }
                channel = connection.createChannel();
            }
            return channel;
        } catch (IOException | TimeoutException e) {
            throw new IllegalStateException("cannot open a channel to " + endpoint, e);
        }
    }

    /**
     * Events of an assignment the scheduler did not make as given (an older or a newer attempt, another worker),
     * published on this plain channel: what a worker whose assignment was taken back, or a confused one, sends.
     */
    JobAttempt attempt(String workerId, java.util.UUID jobId, int attempt) {
        return new JobAttempt(channel(), workerId, jobId, attempt);
    }

    /** Takes one message from a queue (auto-ack), or null when it is empty. */
    GetResponse take(String queue) {
        try {
            return channel().basicGet(queue, true);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    long depth(String queue) {
        try {
            return channel().queueDeclarePassive(queue).getMessageCount();
        } catch (IOException e) {
            channel = null;
            return -1;
        }
    }

    /** A server-named queue bound to the control fanout: receives every cancel command from now on. */
    String controlTap() {
        try {
            String queue = channel().queueDeclare().getQueue();
            channel().queueBind(queue, Topology.CONTROL_EXCHANGE, "");
            return queue;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Deletes the endpoint's virtual host: every connection to it is closed and it refuses new ones. */
    void deleteVirtualHost() {
        closeQuietly();
        management("DELETE", "/api/vhosts/" + encode(endpoint.virtualHost()), null);
    }

    /** Creates the virtual host again (empty) and grants the user all permissions. */
    void createVirtualHost() {
        management("PUT", "/api/vhosts/" + encode(endpoint.virtualHost()), "{}");
        management(
                "PUT",
                "/api/permissions/" + encode(endpoint.virtualHost()) + "/" + encode(endpoint.username()),
                "{\"configure\":\".*\",\"write\":\".*\",\"read\":\".*\"}");
    }

    private void management(String method, String path, String body) {
        String auth = Base64.getEncoder()
                .encodeToString((endpoint.username() + ":" + endpoint.password()).getBytes(StandardCharsets.UTF_8));
        HttpRequest request = HttpRequest.newBuilder(
                        URI.create("http://" + endpoint.host() + ":" + endpoint.managementPort() + path))
                .timeout(Duration.ofSeconds(20))
                .header("Authorization", "Basic " + auth)
                .header("Content-Type", "application/json")
                .method(
                        method,
                        body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body))
                .build();
        try {
            HttpResponse<String> response = HttpClient.newBuilder()
                    .version(HttpClient.Version.HTTP_1_1)
                    .build()
                    .send(request, HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() >= 300) {
                throw new IllegalStateException(
                        method + " " + path + ": HTTP " + response.statusCode() + " " + response.body());
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static String encode(String segment) {
        return URLEncoder.encode(segment, StandardCharsets.UTF_8).replace("+", "%20");
    }

    private void closeQuietly() {
        try {
            if (connection != null && connection.isOpen()) {
                connection.close();
            }
        } catch (IOException | RuntimeException e) {
            // closing anyway
        }
        connection = null;
        channel = null;
    }

    @Override
    public void close() {
        closeQuietly();
    }
}
