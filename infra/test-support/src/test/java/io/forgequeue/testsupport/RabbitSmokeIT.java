package io.forgequeue.testsupport;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.BuiltinExchangeType;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.Delivery;
import com.rabbitmq.client.GetResponse;
import com.rabbitmq.client.MessageProperties;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The broker the harness hands out can do what Forge Queue needs: quorum queues, DLX, confirms, redelivery. */
class RabbitSmokeIT {

    private static final String DLX = "smoke.dlx";
    private static final String DEAD_LETTERS = "smoke.dead-letters";

    private static RabbitEndpoint rabbit;
    private static Connection connection;

    @BeforeAll
    static void connect() throws Exception {
        rabbit = TestInfrastructure.rabbit().withFreshVirtualHost("rabbit-smoke");
        connection = rabbit.connectionFactory().newConnection("rabbit-smoke-it");
        try (Channel channel = connection.createChannel()) {
            channel.exchangeDeclare(DLX, BuiltinExchangeType.FANOUT, true);
            channel.queueDeclare(DEAD_LETTERS, true, false, false, Map.of("x-queue-type", "quorum"));
            channel.queueBind(DEAD_LETTERS, DLX, "");
        }
    }

    @AfterAll
    static void close() throws Exception {
        if (connection != null) {
            connection.close();
        }
    }

    @Test
    void freshVirtualHostIsNewAndNotTheDefault() {
        assertThat(rabbit.virtualHost()).startsWith("rabbit-smoke_fq").isNotEqualTo("/");
        assertThat(new RabbitManagementClient(rabbit).virtualHostNames()).contains(rabbit.virtualHost());
    }

    @Test
    void createsAVirtualHostWhenThePutIsTheFirstRequestOnANewConnection() {
        // issue 15: the JDK client's default HTTP/2 upgrade made this PUT fail with "EOF reached while reading"
        RabbitManagementClient fresh =
                new RabbitManagementClient(TestInfrastructure.rabbit(), RabbitManagementClient.newHttpClient());
        String name = FreshNames.virtualHost("first-put");

        fresh.createVirtualHost(name);

        assertThat(new RabbitManagementClient(rabbit).virtualHostNames()).contains(name);
        fresh.deleteVirtualHost(name);
    }

    @Test
    void persistentMessagesConfirmedByTheBrokerComeBackInOrderFromADurableQuorumQueue() throws Exception {
        try (Channel channel = connection.createChannel()) {
            declareWorkQueue(channel, "smoke.jobs");
            channel.confirmSelect();

            for (int i = 0; i < 50; i++) {
                channel.basicPublish("", "smoke.jobs", true, MessageProperties.PERSISTENT_TEXT_PLAIN, body("job-" + i));
            }
            channel.waitForConfirmsOrDie(10_000);

            List<String> received = new ArrayList<>();
            GetResponse response;
            while ((response = channel.basicGet("smoke.jobs", false)) != null) {
                assertThat(response.getProps().getDeliveryMode()).isEqualTo(2);
                received.add(text(response));
                channel.basicAck(response.getEnvelope().getDeliveryTag(), false);
            }
            assertThat(received)
                    .isEqualTo(IntStream.range(0, 50).mapToObj(i -> "job-" + i).toList());
        }
        String queue = new RabbitManagementClient(rabbit).queue(rabbit.virtualHost(), "smoke.jobs");
        assertThat(queue)
                .contains("\"type\":\"quorum\"")
                .contains("\"durable\":true")
                .contains("\"x-dead-letter-exchange\":\"" + DLX + "\"");
    }

    @Test
    void aMessageNackedWithRequeueComesBackToTheConsumerWithADeliveryCount() throws Exception {
        try (Channel channel = connection.createChannel()) {
            declareWorkQueue(channel, "smoke.redelivery");
            publishConfirmed(channel, "smoke.redelivery", "render a cat");
            BlockingQueue<Delivery> deliveries = new LinkedBlockingQueue<>();
            channel.basicQos(1);
            String tag = channel.basicConsume(
                    "smoke.redelivery", false, (consumerTag, delivery) -> deliveries.add(delivery), consumerTag -> {});

            Delivery first = deliveries.poll(10, TimeUnit.SECONDS);
            assertThat(first).as("first delivery").isNotNull();
            assertThat(first.getEnvelope().isRedeliver()).isFalse();
            assertThat(deliveryCount(first.getProperties()))
                    .as("x-delivery-count before any requeue")
                    .isIn(null, 0L);
            channel.basicNack(first.getEnvelope().getDeliveryTag(), false, true);

            Delivery second = deliveries.poll(10, TimeUnit.SECONDS);
            assertThat(second).as("redelivery after nack").isNotNull();
            assertThat(new String(second.getBody(), StandardCharsets.UTF_8)).isEqualTo("render a cat");
            assertThat(second.getEnvelope().isRedeliver()).isTrue();
            assertThat(deliveryCount(second.getProperties())).isEqualTo(1L);
            channel.basicNack(second.getEnvelope().getDeliveryTag(), false, true);

            Delivery third = deliveries.poll(10, TimeUnit.SECONDS);
            assertThat(third).as("second redelivery").isNotNull();
            assertThat(deliveryCount(third.getProperties())).isEqualTo(2L);
            channel.basicAck(third.getEnvelope().getDeliveryTag(), false);
            channel.basicCancel(tag);
        }
    }

    @Test
    void aMessageRejectedWithoutRequeueIsDeadLetteredThroughTheDlx() throws Exception {
        try (Channel channel = connection.createChannel()) {
            declareWorkQueue(channel, "smoke.poison");
            publishConfirmed(channel, "smoke.poison", "not json");

            GetResponse delivery = channel.basicGet("smoke.poison", false);
            assertThat(delivery).isNotNull();
            channel.basicReject(delivery.getEnvelope().getDeliveryTag(), false);

            GetResponse dead = awaitMessage(channel, DEAD_LETTERS);
            assertThat(text(dead)).isEqualTo("not json");
            Map<String, Object> headers = dead.getProps().getHeaders();
            assertThat(headers).containsKey("x-death");
            assertThat(String.valueOf(headers.get("x-first-death-reason"))).isEqualTo("rejected");
            assertThat(String.valueOf(headers.get("x-first-death-queue"))).isEqualTo("smoke.poison");
            channel.basicAck(dead.getEnvelope().getDeliveryTag(), false);
            assertThat(channel.basicGet("smoke.poison", false)).isNull();
        }
    }

    private static void declareWorkQueue(Channel channel, String name) throws Exception {
        AMQP.Queue.DeclareOk ok = channel.queueDeclare(
                name, true, false, false, Map.of("x-queue-type", "quorum", "x-dead-letter-exchange", DLX));
        assertThat(ok.getMessageCount()).isZero();
    }

    private static void publishConfirmed(Channel channel, String queue, String text) throws Exception {
        channel.confirmSelect();
        channel.basicPublish("", queue, true, MessageProperties.PERSISTENT_TEXT_PLAIN, body(text));
        channel.waitForConfirmsOrDie(10_000);
    }

    /** Requeue and dead-lettering are asynchronous in a quorum queue: poll briefly. */
    private static GetResponse awaitMessage(Channel channel, String queue) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        GetResponse response;
        while ((response = channel.basicGet(queue, false)) == null) {
            assertThat(System.nanoTime())
                    .as("a message in %s within 10 s", queue)
                    .isLessThan(deadline);
            Thread.sleep(20);
        }
        return response;
    }

    private static Long deliveryCount(AMQP.BasicProperties properties) {
        Map<String, Object> headers = properties.getHeaders();
        Object count = headers == null ? null : headers.get("x-delivery-count");
        return count == null ? null : ((Number) count).longValue();
    }

    private static byte[] body(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    private static String text(GetResponse response) {
        return new String(response.getBody(), StandardCharsets.UTF_8);
    }
}
