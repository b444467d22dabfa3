package io.forgequeue.worker.job;

import io.forgequeue.worker.system.WorkerProperties;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.ApplicationListener;
import org.springframework.context.event.ContextClosedEvent;
import org.springframework.stereotype.Component;

/**
 * Graceful shutdown (SIGTERM, or any context close). Spring publishes ContextClosedEvent before it stops the
 * listener containers; from then on this says "stopping", and {@code worker.shutdown-grace} later "grace expired".
 * The container stop itself cancels the job consumer (no new deliveries) and waits for the running listener
 * (its shutdown timeout is the grace plus the time to give the job back); the progress watchdog interrupts Forge
 * when the grace expires and the job runner then gives the job back (REQUEUED). Thread-safe.
 */
@Component
class ShutdownGrace implements ApplicationListener<ContextClosedEvent> {

    private static final Logger log = LoggerFactory.getLogger(ShutdownGrace.class);

    private final Duration grace;
    private volatile boolean stopping;
    private volatile long deadlineNanos;

    ShutdownGrace(WorkerProperties worker) {
        this.grace = worker.shutdownGrace();
    }

    @Override
    public void onApplicationEvent(ContextClosedEvent event) {
        if (!stopping) {
            deadlineNanos = System.nanoTime() + grace.toNanos();
            stopping = true;
            log.info("Shutting down: no new jobs; a running job may finish within {} s", grace.toMillis() / 1000.0);
        }
    }

    boolean isStopping() {
        return stopping;
    }

    boolean graceExpired() {
        return stopping && System.nanoTime() - deadlineNanos > 0;
    }
}
