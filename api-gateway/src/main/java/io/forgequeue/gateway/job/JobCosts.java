package io.forgequeue.gateway.job;

import io.forgequeue.gateway.queue.QueueStats;
import io.forgequeue.model.JobSpec;
import org.springframework.stereotype.Component;

/**
 * Estimates a job's GPU seconds before it runs, for the fair-share tags: its size in standard images (one 512x512
 * image at 20 steps) times its pool's measured seconds per standard image. A key's huge jobs therefore count as more
 * than its small ones; when a job ends, its key's clock is corrected by what it really took.
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

    /** The job's size in standard images. */
    static double units(JobSpec spec) {
        return (double) spec.width() * spec.height() * spec.steps() * Math.max(1, spec.batchSize()) / STANDARD;
    }
}
