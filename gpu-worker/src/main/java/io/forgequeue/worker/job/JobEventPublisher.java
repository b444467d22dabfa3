package io.forgequeue.worker.job;

import io.forgequeue.model.Contract;
import io.forgequeue.model.JobEvent;
import io.forgequeue.model.JobPreview;
import io.forgequeue.model.Topology;
import io.forgequeue.worker.system.WireJson;
import io.forgequeue.worker.system.WorkerMetrics;
import io.forgequeue.worker.system.WorkerProperties;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Date;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.amqp.AmqpException;
import org.springframework.amqp.core.Message;
import org.springframework.amqp.core.MessageDeliveryMode;
import org.springframework.amqp.core.MessageProperties;
import org.springframework.amqp.rabbit.connection.ConnectionFactory;
import org.springframework.amqp.rabbit.connection.CorrelationData;
import org.springframework.amqp.rabbit.core.RabbitTemplate;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.SmartLifecycle;
import org.springframework.context.event.EventListener;
import org.springframework.stereotype.Component;
import tools.jackson.databind.ObjectWriter;

/**
 * Publishes status events to {@link Topology#EVENTS_EXCHANGE}: persistent JSON with the contract version header,
 * {@code mandatory}, each with a {@link CorrelationData} (id = job id) whose future completes when the broker
 * confirms it. Events leave in the order they are sent, over one channel ({@link OrderedSender}), without waiting
 * for each other's confirms. Previews go fire-and-forget through a second template that is not {@code mandatory}
 * (no gateway may be listening). Thread-safe.
 */
@Component
class JobEventPublisher implements EventStream.Sink, SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(JobEventPublisher.class);

    private final RabbitTemplate events;
    private final RabbitTemplate previews;
    private final ObjectWriter eventWriter;
    private final ObjectWriter previewWriter;
    private final WorkerMetrics metrics;
    private final OrderedSender sender;
    private volatile boolean running;
    private final String brokerUser;

    JobEventPublisher(
            RabbitTemplate rabbitTemplate,
            ConnectionFactory connectionFactory,
            WireJson json,
            WorkerMetrics metrics,
            WorkerProperties worker) {
        this.events = rabbitTemplate;
        this.sender = new OrderedSender(rabbitTemplate, worker.confirmTimeout());
        this.previews = new RabbitTemplate(connectionFactory);
        this.previews.setMandatory(false);
        this.previews.setUsePublisherConnection(true);
        this.eventWriter = json.mapper().writerFor(JobEvent.class);
        this.previewWriter = json.mapper().writerFor(JobPreview.class);
        this.metrics = metrics;
        this.brokerUser = connectionFactory.getUsername();
    }

    /** Opens the publisher connection at startup, so the first job does not pay for it. Best effort. */
    @EventListener(ApplicationReadyEvent.class)
    void openPublisherConnection() {
        try {
            events.execute(channel -> null);
        } catch (AmqpException e) {
            log.warn("Broker not reachable yet for publishing: {}", e.getMessage());
        }
    }

    /**
     * Queues the event for sending after every event sent before it; returns at once. The returned correlation
     * completes with the broker's confirm, or with a nack when the event could not be sent.
     */
    @Override
    public CorrelationData send(JobEvent event) {
        MessageProperties props = properties(MessageDeliveryMode.PERSISTENT, brokerUser);
        props.setMessageId(event.jobId() + "/" + event.attempt() + "/" + event.seq());
        props.setType(event.type().name());
        CorrelationData correlation = new CorrelationData(event.jobId().toString());
        sender.send(
                Topology.EVENTS_EXCHANGE,
                event.routingKey(),
                new Message(eventWriter.writeValueAsBytes(event), props),
                correlation);
        return correlation;
    }

    /** Counts (and logs a failure of) an event whose confirm nobody waits for. Never blocks. */
    @Override
    public void whenConfirmed(CorrelationData correlation, JobEvent event) {
        correlation.getFuture().whenComplete((confirm, error) -> {
            String result = error != null || confirm == null
                    ? "unconfirmed"
                    : !confirm.ack() ? "nacked" : correlation.getReturned() != null ? "returned" : "confirmed";
            metrics.event(event.type().name(), result);
            if (!result.equals("confirmed")) {
                log.warn(
                        "{} event of job {} (attempt {}, seq {}) not confirmed: {}",
                        event.type(),
                        event.jobId(),
                        event.attempt(),
                        event.seq(),
                        error != null
                                ? error.toString()
                                : confirm == null ? "no confirm" : confirm.ack() ? "unroutable" : confirm.reason());
            }
        });
    }

    @Override
    public void start() {
        sender.start();
        running = true;
    }

    /** Sends what is still queued (bounded), after the listener containers have stopped. */
    @Override
    public void stop() {
        running = false;
        sender.close();
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    /** Before the listener containers, whose jobs send events, and stopped after them. */
    @Override
    public int getPhase() {
        return Integer.MIN_VALUE + 50;
    }

    /**
     * Waits until the broker has confirmed the event.
     *
     * @throws EventNotConfirmedException when the broker refused it, could not route it, or did not answer in time
     */
    @Override
    public void awaitConfirm(CorrelationData correlation, JobEvent event, Duration timeout) {
        CorrelationData.Confirm confirm;
        try {
            confirm = correlation.getFuture().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            metrics.event(event.type().name(), "unconfirmed");
            throw new EventNotConfirmedException(event, "no confirm within " + timeout);
        } catch (ExecutionException e) {
            metrics.event(event.type().name(), "unconfirmed");
            throw new EventNotConfirmedException(event, "confirm failed: " + e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            metrics.event(event.type().name(), "unconfirmed");
            throw new EventNotConfirmedException(event, "interrupted while waiting for the confirm");
        }
        if (!confirm.ack()) {
            metrics.event(event.type().name(), "nacked");
            throw new EventNotConfirmedException(
                    event,
                    "refused by the broker (nack" + (confirm.reason() == null ? ")" : ": " + confirm.reason() + ")"));
        }
        if (correlation.getReturned() != null) {
            metrics.event(event.type().name(), "returned");
            throw new EventNotConfirmedException(
                    event, "unroutable: " + correlation.getReturned().getReplyText());
        }
        metrics.event(event.type().name(), "confirmed");
    }

    /** A preview frame to the relay queues; best effort, never throws. */
    void sendPreview(JobPreview preview) {
        try {
            previews.send(
                    Topology.EVENTS_EXCHANGE,
                    Topology.PREVIEW_ROUTING_KEY,
                    new Message(
                            previewWriter.writeValueAsBytes(preview),
                            properties(MessageDeliveryMode.NON_PERSISTENT, brokerUser)));
        } catch (AmqpException e) {
            log.debug("Preview not sent: {}", e.getMessage());
        }
    }

    /**
     * Every message carries the broker user this worker connects as ({@code user_id}): RabbitMQ refuses a
     * {@code user_id} that is not the connection's user, so the gateway can tell which worker credential published
     * an event or a preview and accepts it only from the user of the worker the job is assigned to.
     */
    static MessageProperties properties(MessageDeliveryMode mode, String brokerUser) {
        MessageProperties props = new MessageProperties();
        props.setUserId(brokerUser);
        props.setContentType(Contract.CONTENT_TYPE);
        props.setContentEncoding(StandardCharsets.UTF_8.name());
        props.setDeliveryMode(mode);
        props.setHeader(Contract.VERSION_HEADER, Contract.VERSION);
        props.setAppId("gpu-worker");
        props.setTimestamp(new Date());
        return props;
    }

    /** The broker did not take responsibility for an event. */
    static class EventNotConfirmedException extends AmqpException {
        EventNotConfirmedException(JobEvent event, String why) {
            super(event.type() + " event of job " + event.jobId() + " (attempt " + event.attempt() + ", seq "
                    + event.seq() + ") not confirmed: " + why);
        }
    }
}
