package io.forgequeue.gateway.relay;

import io.forgequeue.gateway.system.GatewayMetrics;
import io.forgequeue.gateway.system.ThreadPools;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.concurrent.RejectedExecutionHandler;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.scheduling.concurrent.ThreadPoolTaskExecutor;

/**
 * The relay's sending thread ({@code relay-publisher}) and its bounded backlog of job updates ({@code gateway.websocket.max-pending-updates}).
 * One thread keeps the order of the updates and keeps broker trouble off request and consumer threads. An update
 * that finds the backlog full is dropped: counted in {@code gpu.gateway.websocket.updates.dropped} and logged at most
 * once per {@link #LOG_INTERVAL} with the number dropped since the last line. Its change still reaches the clients
 * through {@link SessionReconciler}, which compares what they were sent with PostgreSQL. Started and stopped by its
 * owner's lifecycle; on stop the updates already waiting are still sent. Thread-safe.
 */
final class UpdateQueue {

    private static final Logger log = LoggerFactory.getLogger(UpdateQueue.class);

    static final Duration LOG_INTERVAL = Duration.ofMinutes(1);

    private final ThreadPoolTaskExecutor sender;
    private final GatewayMetrics metrics;
    private final int capacity;
    private final LongSupplier nanoTime;
    private final AtomicLong droppedSinceLog = new AtomicLong();
    /** {@link #nanoTime} of the last log line; {@link Long#MIN_VALUE} before the first. */
    private final AtomicLong loggedAt = new AtomicLong(Long.MIN_VALUE);

    UpdateQueue(int capacity, GatewayMetrics metrics) {
        this(capacity, metrics, System::nanoTime);
    }

    UpdateQueue(int capacity, GatewayMetrics metrics, LongSupplier nanoTime) {
        this.metrics = metrics;
        this.capacity = capacity;
        this.nanoTime = nanoTime;
        RejectedExecutionHandler drop = (send, executor) -> {
            if (!executor.isShutdown()) {
                dropped();
            }
        };
        sender = ThreadPools.executor("relay-publisher", 1, capacity, drop);
        sender.setWaitForTasksToCompleteOnShutdown(true); // shutdown() lets the waiting updates go out, without waiting
    }

    void start(MeterRegistry meters) {
        ThreadPools.start(sender, meters);
    }

    /** Runs {@code send} after the updates submitted before it, or drops it when the backlog is full. */
    void submit(Runnable send) {
        sender.execute(send);
    }

    void stop() {
        sender.shutdown();
    }

    private void dropped() {
        metrics.updateDropped();
        droppedSinceLog.incrementAndGet();
        long now = nanoTime.getAsLong();
        long last = loggedAt.get();
        boolean due = last == Long.MIN_VALUE || now - last >= LOG_INTERVAL.toNanos();
        if (due && loggedAt.compareAndSet(last, now)) {
            log.warn(
                    "{} job update(s) dropped: the relay's backlog of {} (gateway.websocket.max-pending-updates) "
                            + "is full; clients get these changes from the reconcile",
                    droppedSinceLog.getAndSet(0),
                    capacity);
        }
    }
}
