package io.forgequeue.gateway.queue;

import io.forgequeue.gateway.apikey.ApiKeys;
import io.forgequeue.gateway.fleet.WorkerDirectory;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.UUID;
import org.springframework.stereotype.Component;

/**
 * The queue overview as one caller sees it: per pool the queued and running jobs (from the {@link QueueIndex}), the
 * workers that take jobs now and those that are paused (from the {@link WorkerDirectory}: connected and announcing;
 * a worker whose Forge is unreachable is paused), the recent mean job time, and the caller's own part. Read from
 * memory, no query, so the REST endpoint and every pushed WebSocket frame show the same numbers. Thread-safe.
 */
@Component
public class QueueOverview {

    private final QueueStats stats;
    private final QueueIndex index;
    private final WorkerDirectory fleet;
    private final ApiKeys keys;

    QueueOverview(QueueStats stats, QueueIndex index, WorkerDirectory fleet, ApiKeys keys) {
        this.stats = stats;
        this.index = index;
        this.fleet = fleet;
        this.keys = keys;
    }

    /** The overview for the key {@code keyId} with fair-share weight {@code weight}, as of now. */
    public QueueView of(UUID keyId, double weight) {
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
            pools.add(new QueueView.PoolView(
                    pool,
                    queued,
                    run,
                    f.available(),
                    f.paused(),
                    history.meanJobSeconds(),
                    history.samples(),
                    own(keyId, weight, pool, run)));
        }
        return new QueueView(depth, running, available, pools, Instant.now());
    }

    private QueueView.OwnView own(UUID keyId, double weight, String pool, int poolRunning) {
        Map<UUID, Integer> owners = index.ownersIn(pool);
        Integer held = owners.get(keyId);
        int waiting = index.waitingOf(keyId, pool);
        if (held == null && waiting == 0) {
            return null;
        }
        double weights = 0;
        for (UUID owner : owners.keySet()) {
            weights += keys.quotaOf(owner).weight();
        }
        double fairShare = weights <= 0 ? 1.0 : weight / weights;
        long ownRunning = held == null ? 0 : held;
        return new QueueView.OwnView(
                waiting,
                ownRunning,
                round(fairShare),
                poolRunning == 0 ? null : round((double) Math.min(ownRunning, poolRunning) / poolRunning));
    }

    private static double round(double share) {
        return Math.round(share * 1000.0) / 1000.0;
    }
}
