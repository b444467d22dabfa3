package io.forgequeue.worker.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.mockito.Mockito.inOrder;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.timeout;
import static org.mockito.Mockito.when;

import com.rabbitmq.client.ShutdownSignalException;
import io.forgequeue.worker.forge.ForgeClient;
import io.forgequeue.worker.forge.ForgeProperties;
import io.forgequeue.worker.system.WorkerMetrics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.URI;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.mockito.InOrder;
import org.springframework.amqp.core.AmqpAdmin;
import org.springframework.amqp.core.MessageListenerContainer;
import org.springframework.amqp.core.Queue;
import org.springframework.amqp.rabbit.connection.AbstractConnectionFactory;
import org.springframework.amqp.rabbit.connection.CachingConnectionFactory;
import org.springframework.amqp.rabbit.listener.AsyncConsumerRestartedEvent;
import org.springframework.amqp.rabbit.listener.ConsumeOkEvent;
import org.springframework.amqp.rabbit.listener.RabbitListenerEndpointRegistry;

/**
 * Whether the worker can receive a job now (what its announcements say), and the pause and resume around a Forge
 * outage, with the listener container, the broker admin and Forge replaced by mocks. The connection factory is real
 * but never connects: its connection callbacks are played by hand.
 */
class ConsumptionControlTest {

    private static final String QUEUE = "forge.jobs.worker.gpu-a";

    private final RabbitListenerEndpointRegistry registry = mock(RabbitListenerEndpointRegistry.class);
    private final MessageListenerContainer container = mock(MessageListenerContainer.class);
    private final ForgeClient forge = mock(ForgeClient.class);
    private final AmqpAdmin admin = mock(AmqpAdmin.class);
    private final ShutdownGrace shutdown = mock(ShutdownGrace.class);
    private final CachingConnectionFactory connectionFactory = new CachingConnectionFactory("127.0.0.1", 1);
    private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    private ConsumptionControl control;

    @BeforeEach
    void runningContainer() {
        when(registry.getListenerContainer(ConsumptionControl.JOBS_CONTAINER)).thenReturn(container);
        when(container.isRunning()).thenReturn(true);
        ForgeProperties forgeProperties = new ForgeProperties(
                URI.create("http://127.0.0.1:7861"),
                null,
                null,
                Duration.ofSeconds(1),
                Duration.ofSeconds(5),
                Duration.ofSeconds(1),
                Duration.ofSeconds(1),
                Duration.ofSeconds(1),
                new ForgeProperties.Retry(
                        2,
                        Duration.ofMillis(10),
                        Duration.ofMillis(20),
                        0,
                        Duration.ofMillis(10),
                        Duration.ofMillis(20)),
                new ForgeProperties.Breaker(5, Duration.ofSeconds(1), 1, Duration.ofMillis(10)),
                null);
        control = new ConsumptionControl(
                registry,
                forge,
                forgeProperties,
                scheduler,
                new WorkerMetrics(new SimpleMeterRegistry()),
                shutdown,
                admin,
                new Queue(QUEUE),
                connectionFactory,
                new SimpleMeterRegistry());
    }

    @AfterEach
    void stop() {
        control.destroy();
        scheduler.shutdownNow();
        connectionFactory.destroy();
    }

    private void consumeOk(String queue) {
        control.onConsumeOk(new ConsumeOkEvent(this, queue, "tag-" + queue));
    }

    private static ShutdownSignalException connectionLost() {
        return new ShutdownSignalException(true, false, null, null);
    }

    @Test
    void consumesOnlyOnceTheBrokerRegisteredItsConsumerOnItsOwnQueue() {
        assertThat(control.isConsuming())
                .as("container running, consumer not registered yet")
                .isFalse();

        consumeOk("forge.control.gpu-a");
        assertThat(control.isConsuming()).as("another queue's consumer").isFalse();
        consumeOk(QUEUE);

        assertThat(control.isConsuming()).isTrue();
    }

    /** Its exclusive queue went with the connection; the publisher connection may be back long before. */
    @Test
    void stopsConsumingWhenTheConsumerConnectionShutsDownButNotWhenThePublisherConnectionDoes() {
        consumeOk(QUEUE);

        ((AbstractConnectionFactory) connectionFactory.getPublisherConnectionFactory())
                .shutdownCompleted(connectionLost());
        assertThat(control.isConsuming()).as("publisher connection lost").isTrue();
        connectionFactory.shutdownCompleted(connectionLost());
        assertThat(control.isConsuming()).as("consumer connection lost").isFalse();

        consumeOk(QUEUE); // the container's new consumer, after the queue was declared again
        assertThat(control.isConsuming()).isTrue();
    }

    @Test
    void aLateNoticeThatTheConsumersPreviousConnectionShutDownDoesNotUndoTheNewConsumer() {
        com.rabbitmq.client.Connection before = mock(com.rabbitmq.client.Connection.class);
        com.rabbitmq.client.Connection after = mock(com.rabbitmq.client.Connection.class);
        control.onConsumeOk(new ConsumeOkEvent(consumerOn(before), QUEUE, "tag-1"));
        control.onConsumeOk(new ConsumeOkEvent(consumerOn(after), QUEUE, "tag-2"));

        connectionFactory.shutdownCompleted(new ShutdownSignalException(true, false, null, before));
        assertThat(control.isConsuming()).isTrue();
        connectionFactory.shutdownCompleted(new ShutdownSignalException(true, false, null, after));

        assertThat(control.isConsuming()).isFalse();
    }

    private static com.rabbitmq.client.DefaultConsumer consumerOn(com.rabbitmq.client.Connection connection) {
        com.rabbitmq.client.Channel channel = mock(com.rabbitmq.client.Channel.class);
        when(channel.getConnection()).thenReturn(connection);
        return new com.rabbitmq.client.DefaultConsumer(channel);
    }

    @Test
    void stopsConsumingWhileItsJobConsumerRestartsButNotForAnotherContainer() {
        consumeOk(QUEUE);

        control.onConsumerRestarted(new AsyncConsumerRestartedEvent(mock(MessageListenerContainer.class), "a", "b"));
        assertThat(control.isConsuming()).isTrue();
        control.onConsumerRestarted(new AsyncConsumerRestartedEvent(container, "a", "b"));

        assertThat(control.isConsuming()).isFalse();
    }

    @Test
    void takesNoJobAfterAStartupCheckThatForgeFailedUntilAProbeSucceedsThenPurgesItsQueueBeforeConsuming() {
        consumeOk(QUEUE);
        when(forge.probe()).thenReturn(false);
        assertThat(control.hasCheckedForgeAtStartup()).isFalse();

        control.probeForgeAtStartup();

        assertThat(control.hasCheckedForgeAtStartup()).isTrue();
        assertThat(control.isPaused()).isTrue();
        assertThat(control.isConsuming()).isFalse();
        org.mockito.Mockito.verify(container, timeout(5_000)).stop();

        when(forge.probe()).thenReturn(true);

        await().atMost(Duration.ofSeconds(5)).until(() -> !control.isPaused());
        InOrder order = inOrder(admin, container);
        order.verify(admin).purgeQueue(QUEUE);
        order.verify(container).start();
        consumeOk(QUEUE);
        assertThat(control.isConsuming()).isTrue();
    }

    @Test
    void consumesAtOnceAfterAStartupCheckThatForgeAnswered() {
        consumeOk(QUEUE);
        when(forge.probe()).thenReturn(true);

        control.probeForgeAtStartup();

        assertThat(control.hasCheckedForgeAtStartup()).isTrue();
        assertThat(control.isPaused()).isFalse();
        assertThat(control.isConsuming()).isTrue();
    }
}
