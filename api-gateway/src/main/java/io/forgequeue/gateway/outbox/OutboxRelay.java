package io.forgequeue.gateway.outbox;

import io.forgequeue.gateway.job.DispatchRequested;
import io.forgequeue.gateway.job.RedundantAttempt;
import io.forgequeue.gateway.system.ContractMessage;
import io.forgequeue.gateway.system.GatewayMetrics;
import io.forgequeue.gateway.system.InstanceProperties;
import io.forgequeue.gateway.system.WireJson;
import io.forgequeue.model.CancelJobCommand;
import io.forgequeue.model.Topology;
import jakarta.annotation.PreDestroy;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.amqp.AmqpException;
import org.springframework.amqp.core.Message;
import org.springframework.amqp.rabbit.connection.CorrelationData;
import org.springframework.amqp.rabbit.core.RabbitTemplate;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.context.event.EventListener;
import org.springframework.dao.DataAccessException;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Publishes outbox entries (cancel commands) with publisher confirms and marks them sent once the broker confirmed
 * them. Jobs are not published here: the scheduler hands them to workers.
 *
 * <p>Latency path: the instance that commits a job (or cancel) has already claimed its outbox entry in the same
 * statement and hands it to the publisher thread at once ({@link DispatchRequested}); no polling delay. The
 * publisher sends, confirms arrive asynchronously, and a writer thread marks confirmed entries sent (or releases
 * failed ones) in batches, one statement per batch. Safety net: a periodic sweep claims unsent entries that no
 * instance holds (released after a failure, or whose lease expired after a crash) with FOR UPDATE SKIP LOCKED.
 * Delivery is at least once: an instance that dies between the broker's confirm and the mark re-publishes after
 * the lease.
 */
@Component
class OutboxRelay {

    private static final Logger log = LoggerFactory.getLogger(OutboxRelay.class);
    private static final int MAX_BATCH = 1000;

    private final OutboxRepository outbox;
    private final RabbitTemplate controlTemplate;
    private final WireJson json;
    private final GatewayMetrics metrics;
    private final OutboxProperties properties;
    private final String instanceId;
    private final ApplicationEventPublisher events;

    private final BlockingQueue<OutboxEntry> toPublish = new LinkedBlockingQueue<>();
    private final BlockingQueue<Long> confirmed = new LinkedBlockingQueue<>();
    private final BlockingQueue<Long> failed = new LinkedBlockingQueue<>();
    private final Thread publisher;
    private final Thread writer;
    private volatile boolean running = true;
    private volatile boolean brokerFailing;

    OutboxRelay(OutboxRepository outbox, RabbitTemplate controlTemplate, WireJson json, GatewayMetrics metrics,
                OutboxProperties properties, InstanceProperties instance, ApplicationEventPublisher events) {
        this.outbox = outbox;
        this.controlTemplate = controlTemplate;
        this.json = json;
        this.metrics = metrics;
        this.properties = properties;
        this.instanceId = instance.instanceId();
        this.events = events;
        this.publisher = new Thread(this::publishLoop, "outbox-publisher");
        this.writer = new Thread(this::writeLoop, "outbox-writer");
        publisher.setDaemon(true);
        writer.setDaemon(true);
        publisher.start();
        writer.start();
    }

    @EventListener
    void onDispatchRequested(DispatchRequested request) {
        toPublish.add(new OutboxEntry(request.outboxId(), 1, request.cancel()));
    }

    /**
     * A worker runs an attempt of a job that has already ended: tell the workers to cancel it (the worker running
     * it interrupts Forge; the others remember the id and skip a later delivery). Best effort, without the outbox:
     * a lost command costs GPU time, never a result, since the merge ignores whatever that attempt reports.
     */
    @EventListener
    void onRedundantAttempt(RedundantAttempt attempt) {
        metrics.redundantAttempt();
        log.info("Job(id={}) attempt {} is no longer worker {}'s (the job ended or was handed to another worker) "
                + "but it started it; asking it to stop", attempt.jobId(), attempt.attempt(), attempt.workerId());
        try {
            // only that attempt on that worker: the worker that runs the job now is not disturbed
            CancelJobCommand cancel = new CancelJobCommand(attempt.jobId(), Instant.now(), attempt.attempt(),
                    attempt.workerId());
            controlTemplate.send(Topology.CONTROL_EXCHANGE, "",
                    message(json.toBytes(cancel), attempt.jobId() + "/stop-" + attempt.attempt()));
        } catch (AmqpException e) {
            log.warn("Job(id={}): could not ask worker {} to stop its redundant attempt: {}", attempt.jobId(),
                    attempt.workerId(), e.getMessage());
        }
    }

    /** The safety net: publishes what nobody holds; also refreshes the lag gauge. */
    @Scheduled(fixedDelayString = "${gateway.outbox.sweep-interval:1s}", initialDelayString = "${gateway.outbox.sweep-interval:1s}")
    void sweep() {
        try {
            metrics.outboxLag(outbox.lagSeconds());
            List<OutboxRepository.Claimed> claimed = outbox.claim(instanceId, properties.lease(), properties.batchSize());
            List<Long> stale = new ArrayList<>();
            for (OutboxRepository.Claimed c : claimed) {
                if (c.stale()) {
                    stale.add(c.entry().id());
                } else {
                    toPublish.add(c.entry());
                }
            }
            if (!stale.isEmpty()) {
                outbox.markSent(stale); // the job left QUEUED before its message went out: nothing to publish
            }
            if (!claimed.isEmpty()) {
                log.debug("Outbox sweep claimed {} entries ({} no longer needed)", claimed.size(), stale.size());
            }
        } catch (DataAccessException e) {
            log.warn("Outbox sweep failed: {}", e.getClass().getSimpleName());
        }
    }

    @Scheduled(fixedDelayString = "${gateway.outbox.purge-interval:1m}", initialDelayString = "${gateway.outbox.purge-interval:1m}")
    void purge() {
        try {
            outbox.purgeSent(properties.retention());
        } catch (DataAccessException e) {
            log.warn("Outbox purge failed: {}", e.getClass().getSimpleName());
        }
    }

    private void publishLoop() {
        List<OutboxEntry> batch = new ArrayList<>();
        while (running) {
            try {
                OutboxEntry first = toPublish.poll(1, TimeUnit.SECONDS);
                if (first == null) {
                    continue;
                }
                batch.add(first);
                toPublish.drainTo(batch, MAX_BATCH);
                for (int i = 0; i < batch.size(); i++) {
                    if (!publish(batch.get(i))) {
                        // broker unreachable: give the rest back at once, the sweep retries
                        for (int j = i + 1; j < batch.size(); j++) {
                            failed.add(batch.get(j).id());
                        }
                        break;
                    }
                }
                batch.clear();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (RuntimeException e) {
                log.error("Outbox publisher failed; entries will be retried by the sweep", e);
                batch.forEach(entry -> failed.add(entry.id()));
                batch.clear();
            }
        }
    }

    /** Sends one entry; false when the broker cannot be reached (the entry is already given back). */
    private boolean publish(OutboxEntry entry) {
        CorrelationData correlation = new CorrelationData(String.valueOf(entry.id()));
        try {
            if (entry.cancel() != null) {
                controlTemplate.send(Topology.CONTROL_EXCHANGE, "",
                        message(json.toBytes(entry.cancel()), entry.cancel().jobId().toString()), correlation);
            } else {
                confirmed.add(entry.id()); // its job is gone: nothing to publish
                return true;
            }
        } catch (AmqpException e) {
            metrics.outboxFailed("error");
            if (!brokerFailing) {
                log.warn("Outbox entry {} not published, broker unreachable ({}); retrying from the sweep",
                        entry.id(), e.getClass().getSimpleName());
                brokerFailing = true;
            }
            failed.add(entry.id());
            return false;
        }
        if (brokerFailing) {
            log.info("Outbox publishing works again");
            brokerFailing = false;
        }
        correlation.getFuture().whenComplete((confirm, error) -> {
            if (error != null || confirm == null || !confirm.ack()) {
                metrics.outboxFailed("nack");
                log.warn("Outbox entry {} not confirmed by the broker ({}); retrying", entry.id(),
                        error != null ? error.getClass().getSimpleName() : confirm == null ? "no confirm" : confirm.reason());
                failed.add(entry.id());
            } else if (correlation.getReturned() != null) {
                metrics.outboxFailed("returned");
                confirmed.add(entry.id()); // a cancel nobody listens to (no worker running): nothing to do
            } else {
                metrics.outboxPublished(entry.kind());
                confirmed.add(entry.id());
            }
        });
        return true;
    }

    private static Message message(byte[] body, String messageId) {
        return ContractMessage.persistent(body, messageId);
    }

    private void writeLoop() {
        List<Long> sent = new ArrayList<>();
        List<Long> back = new ArrayList<>();
        while (running || !confirmed.isEmpty() || !failed.isEmpty()) {
            try {
                if (sent.isEmpty() && back.isEmpty()) {
                    Long first = confirmed.poll(50, TimeUnit.MILLISECONDS);
                    if (first != null) {
                        sent.add(first);
                    }
                }
                confirmed.drainTo(sent, MAX_BATCH);
                failed.drainTo(back, MAX_BATCH);
                if (!sent.isEmpty()) {
                    outbox.markSent(sent);
                    sent.clear();
                }
                if (!back.isEmpty()) {
                    outbox.release(back);
                    back.clear();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (DataAccessException e) {
                // Keep the ids and try again; unmarked entries are at worst published again after their lease.
                log.warn("Outbox writer cannot reach the database ({}); retrying", e.getClass().getSimpleName());
                sleepQuietly(500);
            } catch (RuntimeException e) {
                log.error("Outbox writer failed", e);
                sleepQuietly(500);
            }
        }
    }

    private static void sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @PreDestroy
    void stop() throws InterruptedException {
        running = false;
        publisher.interrupt();
        writer.join(2000);
    }
}
