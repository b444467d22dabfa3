package io.forgequeue.gateway.event;

import com.rabbitmq.client.Channel;
import io.forgequeue.gateway.job.EventMoves;
import io.forgequeue.gateway.system.BackgroundLoop;
import io.forgequeue.gateway.system.DatabaseFailures;
import io.forgequeue.gateway.system.GatewayMetrics;
import io.forgequeue.gateway.system.ThreadPools;
import io.forgequeue.model.JobEvent;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;
import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;

/**
 * Merges the events the persist-queue consumers hand over, in batches: each consumer has its own merging thread (a
 * "lane"), which merges whatever its consumer delivered while the previous batch was being merged together, in one
 * transaction (one commit instead of one per event), then acknowledges them with one multiple-ack. Under light load
 * a batch is a single event, so nothing waits for a batch to fill, and a single event is merged by one statement in
 * autocommit (one round trip to PostgreSQL; a transaction adds the plan-cache setting and the commit). The lanes
 * merge in parallel, one per consumer, so several PostgreSQL backends and cores work at once. Why this stays
 * hand-written: docs/decisions/0003-hand-written-outbox-and-merge-batcher.md.
 *
 * <p>Guarantees kept: every event is merged by the guarded statement ({@link EventMerger}); a message is acked only
 * after its merge committed; the relay hears of a change only after the commit. A batch is sorted by job (stable, so
 * the events of one job keep their order), so concurrent batches (other lanes, other gateways) lock rows in the same
 * order and cannot deadlock. If a batch fails, its events are merged one by one (one autocommit statement each), so
 * one bad event cannot hold back the others: a database that cannot be reached
 * returns the events to the queue after a pause, any other failure drops only the event that caused it (counted).
 *
 * <p>The multiple-ack is safe because a channel belongs to one consumer thread, whose deliveries all go to the same
 * lane, which handles them in the order they arrived: when it acks tag n, every earlier delivery of that channel has
 * been acked or rejected already.
 */
@Component
class MergeBatcher implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(MergeBatcher.class);
    private static final long UNAVAILABLE_PAUSE_MILLIS = 1000;

    /** One consumed event, its publisher (validated {@code user_id}, or null) and where to acknowledge it. */
    record Delivery(JobEvent event, String publisher, Channel channel, long tag) {}

    private final EventMerger merger;
    private final GatewayMetrics metrics;
    private final int maxBatch;
    private final List<Lane> lanes = new ArrayList<>();
    private final AtomicInteger nextLane = new AtomicInteger();
    private final ThreadLocal<Lane> laneOfConsumer = new ThreadLocal<>();

    MergeBatcher(EventMerger merger, GatewayMetrics metrics, EventProperties properties) {
        this.merger = merger;
        this.metrics = metrics;
        this.maxBatch = properties.maxBatch();
        for (int i = 0; i < properties.consumers(); i++) {
            lanes.add(new Lane("event-merger-" + (i + 1)));
        }
    }

    /** Called on a consumer's thread: its events go to that consumer's lane. */
    void submit(Delivery delivery) {
        Lane lane = laneOfConsumer.get();
        if (lane == null) {
            lane = lanes.get(Math.floorMod(nextLane.getAndIncrement(), lanes.size()));
            laneOfConsumer.set(lane);
        }
        lane.queue.add(delivery);
    }

    /** One merging thread ({@code event-merger-N}) and the deliveries waiting for it. */
    private final class Lane {
        final LinkedBlockingQueue<Delivery> queue = new LinkedBlockingQueue<>();
        final List<Delivery> batch = new ArrayList<>();
        final BackgroundLoop thread;

        Lane(String name) {
            thread = BackgroundLoop.draining(name, this::mergeBatch, () -> !queue.isEmpty());
        }

        private void mergeBatch() throws InterruptedException {
            try {
                Delivery first = queue.poll(200, TimeUnit.MILLISECONDS);
                if (first == null) {
                    return;
                }
                batch.add(first);
                queue.drainTo(batch, maxBatch - 1);
                process(batch);
            } catch (RuntimeException e) {
                // Unexpected (process() settles every event itself): give the batch back rather than leaving it
                // unacknowledged, which would hold the consumer's prefetch window until its channel closed
                log.error("Event merger failed; the events of this batch go back to the queue", e);
                batch.forEach(d -> settle(d, false, true));
            } finally {
                batch.clear();
            }
        }
    }

    private void process(List<Delivery> batch) {
        if (batch.size() == 1) {
            // Light load: one statement in autocommit, one round trip to PostgreSQL (a transaction would add two:
            // the plan-cache setting and the commit), so a lone event reaches the clients sooner
            mergeOne(batch.get(0));
            return;
        }
        List<Delivery> sorted = new ArrayList<>(batch);
        sorted.sort(Comparator.comparing(d -> d.event().jobId()));
        try {
            merger.mergeAll(sorted.stream()
                    .map(d -> new EventMoves.Published(d.event(), d.publisher()))
                    .toList());
            ackAll(batch);
        } catch (RuntimeException e) {
            log.debug("A batch of {} events failed ({}); merging them one by one", batch.size(), e.toString());
            for (int i = 0; i < sorted.size(); i++) {
                if (!mergeOne(sorted.get(i))) {
                    for (Delivery rest : sorted.subList(i + 1, sorted.size())) {
                        settle(rest, false, true);
                    }
                    return;
                }
            }
        }
    }

    /**
     * The per-event path: merge in its own transaction, then ack; false when the database is unreachable (the event
     * went back to the queue after a pause).
     */
    private boolean mergeOne(Delivery d) {
        JobEvent event = d.event();
        MDC.put("jobId", event.jobId().toString());
        try {
            merger.merge(event, d.publisher());
            settle(d, true, false);
            return true;
        } catch (RuntimeException e) {
            // a lost connection shows as a DataAccessException, or, when it dies around the merge's transaction, as
            // a TransactionException (cannot begin, rollback failed): either way the event goes back to the queue
            if (DatabaseFailures.isUnavailable(e)) {
                log.warn(
                        "Job(id={}) event {} not merged, database unavailable; returning it to the queue",
                        event.jobId(),
                        event.type());
                pause();
                settle(d, false, true);
                return false;
            }
            metrics.eventRejected("error");
            log.error("Job(id={}) event {} could not be merged and is dropped", event.jobId(), event.type(), e);
            settle(d, false, false);
            return true;
        } finally {
            MDC.remove("jobId");
        }
    }

    /** One multiple-ack per channel, up to the highest delivery tag of the batch on it. */
    private static void ackAll(List<Delivery> batch) {
        Map<Channel, Long> highest = new IdentityHashMap<>();
        for (Delivery d : batch) {
            highest.merge(d.channel(), d.tag(), Math::max);
        }
        highest.forEach((channel, tag) -> {
            try {
                channel.basicAck(tag, true);
            } catch (IOException | RuntimeException e) {
                log.debug("Ack failed ({}); the events come again and their merges are no-ops", e.toString());
            }
        });
    }

    private static void settle(Delivery d, boolean ack, boolean requeue) {
        try {
            if (ack) {
                d.channel().basicAck(d.tag(), false);
            } else {
                d.channel().basicNack(d.tag(), false, requeue);
            }
        } catch (IOException | RuntimeException e) {
            log.debug("Settling an event failed ({}); it comes again and its merge is a no-op", e.toString());
        }
    }

    private void pause() {
        try {
            Thread.sleep(UNAVAILABLE_PAUSE_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void start() {
        lanes.forEach(lane -> lane.thread.start());
    }

    /** Merges what was handed over already (bounded), after the listener containers have stopped. */
    @Override
    public void stop() {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        for (Lane lane : lanes) {
            lane.thread.stop(TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
        }
    }

    @Override
    public boolean isRunning() {
        return !lanes.isEmpty() && lanes.get(0).thread.isRunning();
    }

    /** Started before the listener containers that hand it events, stopped after them. */
    @Override
    public int getPhase() {
        return ThreadPools.PHASE;
    }
}
