package io.forgequeue.gateway.queue;

import java.time.Instant;
import java.util.Map;

/**
 * The queue as of {@code refreshedAt}: depth per pool, active workers and recent job times.
 *
 * @param pools           queued and running jobs per pool (pools with neither are left out)
 * @param activeWorkers   distinct worker ids that sent an event within the worker window
 * @param samples         finished jobs the job times below are computed from (0 = no history yet)
 * @param meanJobSeconds  mean run time of those jobs, or null without history
 * @param lowJobSeconds   20th percentile of those run times, or null
 * @param highJobSeconds  80th percentile of those run times, or null
 */
public record QueueSnapshot(Map<String, PoolCounts> pools, int activeWorkers, int samples, Double meanJobSeconds,
                            Double lowJobSeconds, Double highJobSeconds, Instant refreshedAt) {

    public QueueSnapshot {
        pools = Map.copyOf(pools);
    }

    static QueueSnapshot empty() {
        return new QueueSnapshot(Map.of(), 0, 0, null, null, null, Instant.EPOCH);
    }

    public long queued() {
        return pools.values().stream().mapToLong(PoolCounts::queued).sum();
    }

    public long running() {
        return pools.values().stream().mapToLong(PoolCounts::running).sum();
    }

    /** Queued and running jobs of one pool. */
    public record PoolCounts(long queued, long running) {
    }
}
