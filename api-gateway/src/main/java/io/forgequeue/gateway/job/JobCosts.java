package io.forgequeue.gateway.job;

import io.forgequeue.gateway.queue.QueueStats;
import io.forgequeue.model.JobSpec;
import org.springframework.stereotype.Component;

/**
 * A job's size before it runs: in standard images (one 512x512 image at 20 steps), which is what the fair-share
 * clocks count, and as estimated GPU seconds (its size times its pool's measured seconds per standard image), which
 * placement and ETAs use. A key's huge jobs count as more than its small ones; when a job ends, its key's clock is
 * corrected by what it really took.
 *
 * <p>The clocks count sizes, not estimated seconds, because an estimate depends on when it was made: before a pool
 * has measured job times every job is estimated at {@link io.forgequeue.gateway.queue.QueueStats}'s default, and the
 * measured speed moves afterwards, so two identical jobs of two keys, submitted a few seconds apart, would carry
 * different costs and the keys would not alternate (a key arriving into another's cold-start backlog waited behind
 * all of it).
 */
@Component
class JobCosts {

    private static final double STANDARD = 512.0 * 512.0 * 20.0;

    private final QueueStats stats;

    JobCosts(QueueStats stats) {
        this.stats = stats;
    }

    double estimate(String pool, JobSpec spec) {
        return Math.max(0.001, units(spec) * stats.secondsPerStandardImage(pool));
    }

    /** The job's size in standard images: what it moves its key's fair-share clock by (divided by the key's weight). */
    static double units(JobSpec spec) {
        return (double) spec.width() * spec.height() * spec.steps() * Math.max(1, spec.batchSize()) / STANDARD;
    }
}
