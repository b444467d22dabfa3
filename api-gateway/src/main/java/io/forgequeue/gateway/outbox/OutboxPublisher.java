package io.forgequeue.gateway.outbox;

import io.forgequeue.gateway.job.DispatchRequested;
import io.forgequeue.gateway.system.BackgroundLoop;
import io.forgequeue.gateway.system.ContractMessage;
import io.forgequeue.gateway.system.GatewayMetrics;
import io.forgequeue.gateway.system.ThreadPools;
import io.forgequeue.gateway.system.WireJson;
import io.forgequeue.model.Topology;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.amqp.AmqpException;
import org.springframework.amqp.rabbit.connection.CorrelationData;
import org.springframework.amqp.rabbit.core.RabbitTemplate;
import org.springframework.context.SmartLifecycle;
import org.springframework.context.event.EventListener;
import org.springframework.stereotype.Component;

/**
 * Publishes claimed outbox entries (cancel commands) with publisher confirms, on its thread {@code outbox-publisher}.
 *
 * <p>Latency path: the instance that commits a cancel has already claimed its outbox entry in the same statement and
 * hands it here at once ({@link DispatchRequested}); no polling delay. Confirms arrive asynchronously and go to
 * {@link OutboxConfirms}, which marks the entries sent (or releases failed ones). When the broker cannot be reached
 * the rest of the batch is given back at once and {@link OutboxSweep} retries. Delivery is at least once: an
 * instance that dies between the broker's confirm and the mark re-publishes after the lease.
 */
@Component
class OutboxPublisher implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(OutboxPublisher.class);
    private static final int MAX_BATCH = 1000;

    private final RabbitTemplate controlTemplate;
    private final WireJson json;
    private final GatewayMetrics metrics;
    private final OutboxConfirms confirms;
    private final BlockingQueue<OutboxEntry> toPublish = new LinkedBlockingQueue<>();
    private final List<OutboxEntry> batch = new ArrayList<>();
    private final BackgroundLoop publisher;
    private volatile boolean brokerFailing;

    OutboxPublisher(RabbitTemplate controlTemplate, WireJson json, GatewayMetrics metrics, OutboxConfirms confirms) {
        this.controlTemplate = controlTemplate;
        this.json = json;
        this.metrics = metrics;
        this.confirms = confirms;
        this.publisher = BackgroundLoop.interruptible("outbox-publisher", this::publishBatch);
    }

    @EventListener
    void onDispatchRequested(DispatchRequested request) {
        toPublish.add(new OutboxEntry(request.outboxId(), 1, request.cancel()));
    }

    /** An entry claimed by the sweep: publish it. */
    void publishLater(OutboxEntry entry) {
        toPublish.add(entry);
    }

    private void publishBatch() throws InterruptedException {
        try {
            OutboxEntry first = toPublish.poll(1, TimeUnit.SECONDS);
            if (first == null) {
                return;
            }
            batch.add(first);
            toPublish.drainTo(batch, MAX_BATCH);
            for (int i = 0; i < batch.size(); i++) {
                if (!publish(batch.get(i))) {
                    // broker unreachable: give the rest back at once, the sweep retries
                    for (int j = i + 1; j < batch.size(); j++) {
                        confirms.failed(batch.get(j).id());
                    }
                    break;
                }
            }
        } catch (RuntimeException e) {
            log.error("Outbox publisher failed; entries will be retried by the sweep", e);
            batch.forEach(entry -> confirms.failed(entry.id()));
        } finally {
            batch.clear();
        }
    }

    /** Sends one entry; false when the broker cannot be reached (the entry is already given back). */
    private boolean publish(OutboxEntry entry) {
        CorrelationData correlation = new CorrelationData(String.valueOf(entry.id()));
        try {
            if (entry.cancel() != null) {
                controlTemplate.send(
                        Topology.CONTROL_EXCHANGE,
                        "",
                        ContractMessage.persistent(
                                json.toBytes(entry.cancel()),
                                entry.cancel().jobId().toString()),
                        correlation);
            } else {
                confirms.confirmed(entry.id()); // its job is gone: nothing to publish
                return true;
            }
        } catch (AmqpException e) {
            metrics.outboxFailed("error");
            if (!brokerFailing) {
                log.warn(
                        "Outbox entry {} not published, broker unreachable ({}); retrying from the sweep",
                        entry.id(),
                        e.getClass().getSimpleName());
                brokerFailing = true;
            }
            confirms.failed(entry.id());
            return false;
        }
        if (brokerFailing) {
            log.info("Outbox publishing works again");
            brokerFailing = false;
        }
        correlation.getFuture().whenComplete((confirm, error) -> {
            if (error != null || confirm == null || !confirm.ack()) {
                metrics.outboxFailed("nack");
                log.warn(
                        "Outbox entry {} not confirmed by the broker ({}); retrying",
                        entry.id(),
                        error != null
                                ? error.getClass().getSimpleName()
                                : confirm == null ? "no confirm" : confirm.reason());
                confirms.failed(entry.id());
            } else if (correlation.getReturned() != null) {
                metrics.outboxFailed("returned");
                confirms.confirmed(entry.id()); // a cancel nobody listens to (no worker running): nothing to do
            } else {
                metrics.outboxPublished(entry.kind());
                confirms.confirmed(entry.id());
            }
        });
        return true;
    }

    @Override
    public void start() {
        publisher.start();
    }

    @Override
    public void stop() {
        publisher.stop();
    }

    @Override
    public boolean isRunning() {
        return publisher.isRunning();
    }

    /** Stops before {@link OutboxConfirms}, which marks what it published. */
    @Override
    public int getPhase() {
        return ThreadPools.PHASE + 1;
    }
}
