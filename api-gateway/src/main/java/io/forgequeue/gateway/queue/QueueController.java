package io.forgequeue.gateway.queue;

import io.forgequeue.gateway.apikey.ApiKeys;
import io.forgequeue.gateway.apikey.Caller;
import io.forgequeue.gateway.fleet.WorkerDirectory;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.security.SecurityRequirement;
import io.swagger.v3.oas.annotations.tags.Tag;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.UUID;

/** {@code GET /api/v1/queue}: the queue overview, per pool and for the caller. */
@RestController
@Tag(name = "queue")
@SecurityRequirement(name = "apiKey")
class QueueController {

    private final QueueStats stats;
    private final QueueIndex index;
    private final WorkerDirectory fleet;
    private final ApiKeys keys;

    QueueController(QueueStats stats, QueueIndex index, WorkerDirectory fleet, ApiKeys keys) {
        this.stats = stats;
        this.index = index;
        this.fleet = fleet;
        this.keys = keys;
    }

    @GetMapping("/api/v1/queue")
    @Operation(summary = "Queue overview", description = "Per pool: queued jobs (waiting for a GPU or already "
            + "assigned to one), running jobs, the workers that take jobs now and those that are paused, the recent "
            + "mean job time, and the caller's own queued and running jobs with its fair share (its weight among the "
            + "keys with work in the pool) and its share of the GPUs busy now. Live: read from memory, no query.")
    QueueView queue(@Parameter(hidden = true) Caller caller) {
        Map<String, QueueIndex.PoolCounts> counts = index.counts();
        Map<String, WorkerDirectory.PoolFleet> workers = fleet.byPool();
        TreeSet<String> names = new TreeSet<>(counts.keySet());
        names.addAll(workers.keySet());
        List<QueueView.PoolView> pools = new ArrayList<>();
        long depth = 0;
        long running = 0;
        int available = 0;
        for (String pool : names) {
            QueueIndex.PoolCounts c = counts.get(pool);
            WorkerDirectory.PoolFleet f = workers.getOrDefault(pool, new WorkerDirectory.PoolFleet(0, 0, 0));
            int queued = c == null ? 0 : c.queued();
            int run = c == null ? 0 : c.running();
            depth += queued;
            running += run;
            available += f.available();
            QueueSnapshot.PoolHistory history = stats.snapshot().pool(pool);
            pools.add(new QueueView.PoolView(pool, queued, run, f.available(), f.paused(),
                    history.meanJobSeconds(), history.samples(), own(caller, pool, run)));
        }
        return new QueueView(depth, running, available, pools, Instant.now());
    }

    private QueueView.OwnView own(Caller caller, String pool, int poolRunning) {
        Map<UUID, Integer> owners = index.ownersIn(pool);
        Integer held = owners.get(caller.keyId());
        int waiting = index.waitingOf(caller.keyId(), pool);
        if (held == null && waiting == 0) {
            return null;
        }
        double weights = 0;
        for (UUID owner : owners.keySet()) {
            weights += keys.quotaOf(owner).weight();
        }
        double fairShare = weights <= 0 ? 1.0 : caller.quota().weight() / weights;
        long ownRunning = held == null ? 0 : held;
        return new QueueView.OwnView(waiting, ownRunning, round(fairShare),
                poolRunning == 0 ? null : round((double) Math.min(ownRunning, poolRunning) / poolRunning));
    }

    private static double round(double share) {
        return Math.round(share * 1000.0) / 1000.0;
    }

    /**
     * The queue overview.
     *
     * @param depth            queued jobs, all pools
     * @param running          running jobs, all pools
     * @param availableWorkers workers that take jobs now, all pools
     * @param pools            the same per pool, with the caller's own part
     * @param at               when these numbers were taken
     */
    record QueueView(long depth, long running, int availableWorkers, List<PoolView> pools, Instant at) {

        /**
         * One pool.
         *
         * @param depth            queued jobs (waiting, or assigned to a GPU and about to start)
         * @param running          running jobs
         * @param availableWorkers workers that take jobs now (announcing, READY)
         * @param pausedWorkers    workers that are connected but take none (their Forge is unreachable, or they
         *                         are shutting down)
         * @param meanJobSeconds   mean run time of recently finished jobs, or null without history
         * @param samples          how many finished jobs the mean is taken over
         * @param own              the caller's part, or null when it has no job queued or running here
         */
        record PoolView(String pool, long depth, long running, int availableWorkers, int pausedWorkers,
                        Double meanJobSeconds, int samples, OwnView own) {
        }

        /**
         * The caller's part of a pool.
         *
         * @param queued      its jobs waiting for a GPU
         * @param running     its jobs holding a GPU (running, or assigned and about to start)
         * @param fairShare   the share of the pool's GPU time the scheduler gives it while its jobs wait: its weight
         *                    over the weights of the keys with work in the pool (0-1)
         * @param runningShare its share of the jobs running now (0-1), or null when none runs
         */
        record OwnView(long queued, long running, double fairShare, Double runningShare) {
        }
    }
}
