package io.forgequeue.gateway.relay;

import io.forgequeue.gateway.job.JobChanged;
import io.forgequeue.gateway.job.JobViews;
import io.forgequeue.gateway.system.GatewayMetrics;
import io.forgequeue.gateway.system.InstanceProperties;
import io.forgequeue.gateway.system.ThreadPools;
import io.forgequeue.gateway.system.WireJson;
import io.forgequeue.model.Contract;
import io.forgequeue.model.Topology;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.amqp.AmqpException;
import org.springframework.amqp.core.Message;
import org.springframework.amqp.core.MessageDeliveryMode;
import org.springframework.amqp.core.MessageProperties;
import org.springframework.amqp.rabbit.core.RabbitTemplate;
import org.springframework.context.SmartLifecycle;
import org.springframework.context.event.EventListener;
import org.springframework.stereotype.Component;

/**
 * Publishes every committed job change ({@link JobChanged}) as a {@link JobUpdate} on {@code relay.update}, so that
 * every gateway instance pushes it to its WebSocket clients. This instance's own clients get it at once, without the
 * round trip through the broker (the copy that comes back on this instance's relay queue is recognised by its
 * {@value #ORIGIN_HEADER} header and skipped). Transient and fire-and-forget: an update lost on the way (broker
 * hiccup, restart, reconnect, or dropped because the {@link UpdateQueue} backlog was full) is sent to the clients
 * anyway by {@link SessionReconciler}, which compares what they were sent with PostgreSQL periodically and after a
 * broker reconnect; a client that reconnects gets a fresh snapshot when it re-subscribes with its last version.
 */
@Component
class JobUpdatePublisher implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(JobUpdatePublisher.class);

    /** The instance that published a relay message (it delivered the update to its own clients already). */
    static final String ORIGIN_HEADER = "x-forge-gateway";

    private final RabbitTemplate rabbit;
    private final JobViews views;
    private final WireJson json;
    private final JobSocketHandler sockets;
    private final String instanceId;
    private final UpdateQueue sender;
    private final MeterRegistry meters;
    private volatile boolean failing;
    private volatile boolean running;

    JobUpdatePublisher(
            RabbitTemplate rabbit,
            JobViews views,
            WireJson json,
            JobSocketHandler sockets,
            InstanceProperties instance,
            RelayProperties properties,
            GatewayMetrics metrics,
            MeterRegistry meters) {
        this.meters = meters;
        this.rabbit = rabbit;
        this.views = views;
        this.json = json;
        this.sockets = sockets;
        this.instanceId = instance.instanceId();
        this.sender = new UpdateQueue(properties.maxPendingUpdates(), metrics);
    }

    @EventListener
    void onJobChanged(JobChanged change) {
        JobUpdate update = new JobUpdate(
                change.row().ownerKeyId(),
                change.previousStatus(),
                change.queueMoved(),
                views.toView(change.row()),
                java.time.Instant.now());
        sender.submit(() -> send(change, update));
    }

    @Override
    public void start() {
        sender.start(meters);
        running = true;
    }

    @Override
    public void stop() {
        running = false;
        sender.stop();
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    @Override
    public int getPhase() {
        return ThreadPools.PHASE;
    }

    private void send(JobChanged change, JobUpdate update) {
        try {
            sockets.onUpdate(update); // this instance's clients first, in the same order as the relay
        } catch (RuntimeException e) {
            log.warn(
                    "Job(id={}) update not pushed to this instance's clients: {}",
                    change.row().id(),
                    e.toString());
        }
        MessageProperties props = new MessageProperties();
        props.setHeader(ORIGIN_HEADER, instanceId);
        props.setContentType(Contract.CONTENT_TYPE);
        props.setDeliveryMode(MessageDeliveryMode.NON_PERSISTENT);
        props.setHeader(Contract.VERSION_HEADER, Contract.VERSION);
        try {
            rabbit.send(Topology.EVENTS_EXCHANGE, JobUpdate.ROUTING_KEY, new Message(json.toBytes(update), props));
            failing = false;
        } catch (AmqpException e) {
            if (!failing) {
                log.warn(
                        "Job(id={}) update not relayed, broker unreachable ({}); the reconcile will send it",
                        change.row().id(),
                        e.getClass().getSimpleName());
                failing = true;
            }
        }
    }
}
