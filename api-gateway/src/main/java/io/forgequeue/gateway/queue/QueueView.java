package io.forgequeue.gateway.queue;

import java.time.Instant;
import java.util.List;

/**
 * The queue overview ({@code GET /api/v1/queue}, and the WebSocket {@code queue} frame).
 *
 * @param depth            queued jobs, all pools
 * @param running          running jobs, all pools
 * @param availableWorkers workers that take jobs now, all pools
 * @param pools            the same per pool, with the caller's own part
 * @param at               when these numbers were taken (null in WebSocket frames)
 */
public record QueueView(long depth, long running, int availableWorkers, List<PoolView> pools, Instant at) {

    public QueueView {
        pools = List.copyOf(pools);
    }

    /** This overview without its time, to tell whether anything a client shows changed. */
    public QueueView withoutTime() {
        return new QueueView(depth, running, availableWorkers, pools, null);
    }

    /**
     * One pool.
     *
     * @param depth            queued jobs (waiting, or assigned to a GPU and about to start)
     * @param running          running jobs
     * @param availableWorkers workers that take jobs now (connected, announcing, READY: their Forge answers)
     * @param pausedWorkers    workers that are connected but take none (their Forge is unreachable, or they
     *                         are shutting down)
     * @param meanJobSeconds   mean run time of recently finished jobs, or null without history
     * @param samples          how many finished jobs the mean is taken over
     * @param own              the caller's part, or null when it has no job queued or running here
     */
    public record PoolView(
            String pool,
            long depth,
            long running,
            int availableWorkers,
            int pausedWorkers,
            Double meanJobSeconds,
            int samples,
            OwnView own) {}

    /**
     * The caller's part of a pool.
     *
     * @param queued      its jobs waiting for a GPU
     * @param running     its jobs holding a GPU (running, or assigned and about to start)
     * @param fairShare   the share of the pool's GPU time the scheduler gives it while its jobs wait: its weight
     *                    over the weights of the keys with work in the pool (0-1)
     * @param runningShare its share of the jobs running now (0-1), or null when none runs
     */
    public record OwnView(long queued, long running, double fairShare, Double runningShare) {}
}
