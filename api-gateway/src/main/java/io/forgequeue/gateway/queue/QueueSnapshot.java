package io.forgequeue.gateway.queue;

import java.time.Instant;
import java.util.Map;

/**
 * Recent job times per pool as of {@code refreshedAt} (from PostgreSQL, refreshed about once a second).
 *
 * @param pools the pools that finished jobs within the history window
 */
public record QueueSnapshot(Map<String, PoolHistory> pools, Instant refreshedAt) {

    public QueueSnapshot {
        pools = Map.copyOf(pools);
    }

    static QueueSnapshot empty() {
        return new QueueSnapshot(Map.of(), Instant.EPOCH);
    }

    /** The history of {@code pool}, or an empty one. */
    public PoolHistory pool(String pool) {
        return pools.getOrDefault(pool, PoolHistory.NONE);
    }

    /**
     * Run times of a pool's recently finished jobs.
     *
     * @param samples                 finished jobs they are computed from (0 = no history)
     * @param meanJobSeconds          mean run time, or null without history
     * @param lowJobSeconds           20th percentile, or null
     * @param highJobSeconds          80th percentile, or null
     * @param secondsPerStandardImage measured GPU seconds per standard image (512x512, 20 steps), or null
     */
    public record PoolHistory(
            int samples,
            Double meanJobSeconds,
            Double lowJobSeconds,
            Double highJobSeconds,
            Double secondsPerStandardImage) {

        static final PoolHistory NONE = new PoolHistory(0, null, null, null, null);
    }
}
