package io.forgequeue.gateway.retention;

import io.forgequeue.gateway.job.JobErasure;
import io.forgequeue.gateway.system.RetentionMetrics;
import io.forgequeue.gateway.system.ThreadPools;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.time.Instant;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.dao.DataAccessException;
import org.springframework.scheduling.concurrent.ThreadPoolTaskScheduler;
import org.springframework.stereotype.Component;

/**
 * Erases the data of jobs that finished more than {@link RetentionProperties#after()} ago, every
 * {@link RetentionProperties#interval()}, on every gateway: bounded batches ({@code batchSize} jobs per statement, at
 * most {@code maxBatches} statements per sweep), each picking its rows with FOR UPDATE SKIP LOCKED, so gateways
 * sweeping at once erase different jobs and never wait for each other. Also counts what the database holds, every
 * {@link RetentionProperties#statsInterval()}, for {@link RetentionMetrics}. Runs on a thread of its own: a long sweep
 * never delays the gateway's other periodic work.
 */
@Component
class RetentionSweep implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(RetentionSweep.class);

    private final JobErasure erasure;
    private final RetentionProperties properties;
    private final RetentionMetrics metrics;
    private final ThreadPoolTaskScheduler timer = ThreadPools.scheduler("retention", 1);
    private final MeterRegistry meters;
    private boolean failing;
    private volatile boolean running;

    RetentionSweep(JobErasure erasure, RetentionProperties properties, RetentionMetrics metrics, MeterRegistry meters) {
        this.meters = meters;
        this.erasure = erasure;
        this.properties = properties;
        this.metrics = metrics;
    }

    @Override
    public void start() {
        ThreadPools.start(timer, meters);
        running = true;
        if (properties.enabled()) {
            long every = positiveMillis(properties.interval(), "gateway.retention.interval");
            timer.scheduleWithFixedDelay(
                    () -> quietly(this::sweep), Instant.now().plusMillis(every), Duration.ofMillis(every));
            log.info(
                    "Retention: finished jobs' prompts and images are erased {} after they finished",
                    properties.after());
        } else {
            log.info("Retention off (gateway.retention.after=0): finished jobs keep their prompts and images");
        }
        long stats = positiveMillis(properties.statsInterval(), "gateway.retention.stats-interval");
        timer.scheduleWithFixedDelay(
                () -> quietly(this::count),
                Instant.now().plusMillis(Math.min(stats, 10_000)),
                Duration.ofMillis(stats));
    }

    @Override
    public void stop() {
        running = false;
        timer.shutdown();
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    @Override
    public int getPhase() {
        return ThreadPools.PHASE;
    }

    /**
     * Erases what is due, batch after batch, until a batch is not full or {@code maxBatches} ran; returns the jobs it
     * erased. Does nothing when retention is off.
     */
    long sweep() {
        if (!properties.enabled()) {
            return 0;
        }
        long jobs = 0;
        long images = 0;
        long bytes = 0;
        for (int batch = 0; batch < properties.maxBatches(); batch++) {
            JobErasure.Erased erased = erasure.eraseFinishedBefore(properties.after(), properties.batchSize());
            metrics.erased(RetentionMetrics.RETENTION, erased.jobs(), erased.images(), erased.bytes());
            jobs += erased.jobs();
            images += erased.images();
            bytes += erased.bytes();
            if (erased.jobs() < properties.batchSize()) {
                break;
            }
        }
        if (jobs > 0) {
            log.info(
                    "Retention: erased the prompts and {} image(s) ({} bytes) of {} job(s) finished more than {} ago",
                    images,
                    bytes,
                    jobs,
                    properties.after());
        }
        return jobs;
    }

    /** Counts what the database holds and publishes it to the gauges. */
    JobErasure.Stored count() {
        JobErasure.Stored stored = erasure.stored(properties.enabled() ? properties.after() : Duration.ZERO);
        metrics.stored(stored.jobs(), stored.images(), stored.bytes(), stored.due());
        return stored;
    }

    private void quietly(Runnable work) {
        try {
            work.run();
            if (failing) {
                log.info("Retention works again");
                failing = false;
            }
        } catch (DataAccessException e) {
            if (!failing) {
                log.warn(
                        "Retention failed, database unavailable: {}",
                        e.getClass().getSimpleName());
                failing = true;
            }
        } catch (RuntimeException e) {
            log.error("Retention failed", e);
        }
    }

    private static long positiveMillis(Duration d, String name) {
        if (d.toMillis() <= 0) {
            throw new IllegalStateException(name + " must be positive");
        }
        return d.toMillis();
    }
}
