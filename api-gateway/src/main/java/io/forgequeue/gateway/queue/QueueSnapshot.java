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
     * Run times of a pool's recently finished jobs. A job's run time is split into the checkpoint load its worker
     * measured and reported ({@code loadMillis} in its metadata, when its call loaded one) and the rest, its
     * generation: a job that needed a switch is not a slow job, and the loads are counted once, in
     * {@code meanLoadSeconds}. A job whose worker could not split its call ({@code loadUnsplit}: a fresh Forge's first
     * call, before the worker knew its speed) counts only while the pool has no other.
     *
     * @param samples                 finished jobs they are computed from (0 = no history)
     * @param meanJobSeconds          mean generation time (run time without checkpoint loads), or null without history
     * @param lowJobSeconds           20th percentile of the generation time, or null
     * @param highJobSeconds          80th percentile of the generation time, or null
     * @param secondsPerStandardImage measured GPU seconds per standard image (512x512, 20 steps; loads included, as
     *                                the fair share charges them), or null
     * @param meanLoadSeconds         checkpoint load seconds per finished job (the loads spread over all the jobs: what
     *                                switching costs the pool per job), or null without history
     */
    public record PoolHistory(
            int samples,
            Double meanJobSeconds,
            Double lowJobSeconds,
            Double highJobSeconds,
            Double secondsPerStandardImage,
            Double meanLoadSeconds) {

        static final PoolHistory NONE = new PoolHistory(0, null, null, null, null, null);

        public PoolHistory(
                int samples,
                Double meanJobSeconds,
                Double lowJobSeconds,
                Double highJobSeconds,
                Double secondsPerStandardImage) {
            this(samples, meanJobSeconds, lowJobSeconds, highJobSeconds, secondsPerStandardImage, null);
        }

        /** Load seconds per job, 0 when unknown. */
        double loadPerJob() {
            return meanLoadSeconds == null || !(meanLoadSeconds > 0) ? 0 : meanLoadSeconds;
        }
    }
}
