package io.forgequeue.gateway.queue;

import io.forgequeue.gateway.apikey.KeyNames;
import io.forgequeue.gateway.fleet.FleetWorker;
import io.forgequeue.gateway.fleet.WorkerDirectory;
import io.forgequeue.gateway.system.GatewayMetrics;
import io.forgequeue.gateway.system.KeyMetrics;
import io.forgequeue.model.JobStatus;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.dao.DataAccessException;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;

/**
 * What the queue looks like beyond single jobs: recent job times per pool (a snapshot refreshed from PostgreSQL
 * every {@link QueueProperties#refreshInterval()}, one query), counts from the {@link QueueIndex}, available
 * workers from the {@link WorkerDirectory}; from these the ETA and the reason a job waits. Also feeds the
 * queue gauges: jobs by state and the oldest queued job per pool (the autoscaling signal), workers by state per pool,
 * queued and running jobs per key. Thread-safe (the snapshot is an immutable value swapped atomically).
 */
@Component
public class QueueStats {

    private static final Logger log = LoggerFactory.getLogger(QueueStats.class);
    /** Seconds per standard image assumed for a pool that has not finished a job yet. */
    static final double DEFAULT_SECONDS_PER_STANDARD_IMAGE = 1.0;

    private final JdbcClient jdbc;
    private final QueueProperties properties;
    private final GatewayMetrics metrics;
    private final QueueIndex index;
    private final WorkerDirectory fleet;
    private final KeyMetrics keyMetrics;
    private final KeyNames keyNames;
    private volatile QueueSnapshot snapshot = QueueSnapshot.empty();
    private volatile boolean failing;

    QueueStats(
            JdbcClient jdbc,
            QueueProperties properties,
            GatewayMetrics metrics,
            QueueIndex index,
            WorkerDirectory fleet,
            KeyMetrics keyMetrics,
            KeyNames keyNames) {
        this.jdbc = jdbc;
        this.keyMetrics = keyMetrics;
        this.keyNames = keyNames;
        this.properties = properties;
        this.metrics = metrics;
        this.index = index;
        this.fleet = fleet;
        // a change of the fleet ends the view at once: the position frames pushed because of it (a GPU came, went or
        // paused) must tell what the fleet is now, not what it was up to 250 ms before, or "No GPU is available"
        // stays on a waiting job until the queue next moves
        fleet.onChange(() -> fleetView = null);
    }

    /** The latest snapshot of job times. */
    public QueueSnapshot snapshot() {
        return snapshot;
    }

    /** The ETA of the job at {@code position} in {@code pool}, or null if unknown. */
    public Eta etaFor(String pool, Integer position) {
        return etaFor(pool, position, null);
    }

    /**
     * The ETA of a job at {@code position} in {@code pool} that needs {@code checkpoint}: as {@link Eta#of}, plus the
     * time to load the checkpoint when no available worker of the pool has it loaded (the workers' own measured load
     * times, averaged), or null if unknown.
     */
    public Eta etaFor(String pool, Integer position, String checkpoint) {
        return position == null ? null : etaFor(pool, (double) position, checkpoint);
    }

    /**
     * The ETA of a queued job that stands at {@code standing}: counted at its projected position
     * ({@link QueueIndex.Standing#etaPosition}, with the seconds a position takes in the pool now), as
     * {@link #etaFor(String, Integer, String)}.
     *
     * <p>When the scheduler places by checkpoint and jobs of other checkpoints wait before it
     * ({@link QueueIndex.Standing#laneAhead}), its start is taken halfway between two estimates: its place in the
     * pool's order, over all the pool's GPUs, and its place among the jobs of its checkpoint, on the GPUs that will
     * hold that checkpoint ({@link Lanes}). Warm GPUs serve their checkpoint's jobs out of the pool's order, and
     * switches let the order through, so the start lies between the two. Jobs other keys may still submit
     * ({@link QueueIndex.Standing#inflows}) are not counted then: with placement they mostly go to the GPUs of their
     * own checkpoints. In issue 17's mixed-fleet benchmark (4 GPUs, 3 checkpoints, 3 keys over the fleet's capacity)
     * the start so estimated was off by a median 25 % of the wait, against 51 % for the projected position (it
     * counted far more jobs of the other keys ahead than started before the job), 29 % for the position alone and
     * 27 % for the lane alone (docs/scheduling.md, "ETA").
     *
     * <p>A job with no more jobs waiting before it than the pool has available GPUs starts when the GPUs that free up
     * next have taken those jobs: its start is planned job by job over the GPUs ({@link Lanes#plannedStart}: their
     * busy seconds, checkpoint loads and the jobs' costs) instead, within {@link #MAX_PLAN_STEPS}. On that
     * benchmark's per-job logs the median start error went from 28 % to 24 % of the wait (docs/scheduling.md,
     * "Positions and ETA").
     */
    public Eta etaFor(String pool, QueueIndex.Standing standing, String checkpoint) {
        if (standing == null) {
            return null;
        }
        QueueSnapshot.PoolHistory history = snapshot.pool(pool);
        FleetView view = fleetView();
        int workers = view.available(pool).size();
        double perPosition = history.meanJobSeconds() == null || workers == 0
                ? 0
                : (history.meanJobSeconds() + history.loadPerJob()) / workers;
        if (standing.before() != null
                && standing.before().size() <= workers
                && (standing.before().size() + 1L) * workers <= MAX_PLAN_STEPS
                && perPosition > 0) {
            Double start = lanes(view, pool).plannedStart(standing.before(), checkpoint, secondsPerStandardImage(pool));
            if (start != null) {
                return Eta.startingIn(start, history, properties.minSamplesForRange());
            }
        }
        if (standing.laneAhead() != null && checkpoint != null && perPosition > 0) {
            Double lane = lanes(view, pool).startIn(checkpoint, standing.laneAhead(), history.meanJobSeconds());
            if (lane != null) {
                double start = (standing.position() * perPosition + lane) / 2;
                return withLoad(
                        view.available(pool),
                        Eta.startingIn(start, history, properties.minSamplesForRange()),
                        checkpoint);
            }
        }
        return etaFor(pool, standing.etaPosition(perPosition), checkpoint);
    }

    /**
     * The most job-by-GPU steps a planned start may take ({@link Lanes#plannedStart}: jobs x GPUs): every position
     * frame computes an ETA, and with 500 GPUs a plan over 64 jobs would cost 32,000 steps per frame.
     */
    static final int MAX_PLAN_STEPS = 4096;

    /** The checkpoint lanes of {@code pool} in {@code view}: computed once per view (at most every 250 ms). */
    private Lanes lanes(FleetView view, String pool) {
        return view.lanes().computeIfAbsent(pool, p -> {
            double perUnit = secondsPerStandardImage(p);
            long nowMillis = System.currentTimeMillis();
            List<Lanes.WorkerLoad> loads = new java.util.ArrayList<>();
            for (FleetWorker w : view.available(p)) {
                loads.add(Lanes.WorkerLoad.of(w, index.heldBy(w.id()), perUnit, nowMillis));
            }
            return Lanes.of(loads);
        });
    }

    private Eta etaFor(String pool, double position, String checkpoint) {
        List<FleetWorker> workers = fleetView().available(pool);
        return withLoad(
                workers,
                Eta.of(position, snapshot.pool(pool), workers.size(), properties.minSamplesForRange()),
                checkpoint);
    }

    /** {@code eta}, later by the time to load the checkpoint when none of {@code workers} has it loaded. */
    private static Eta withLoad(List<FleetWorker> workers, Eta eta, String checkpoint) {
        if (eta == null || checkpoint == null || workers.stream().anyMatch(w -> w.hasLoaded(checkpoint))) {
            return eta;
        }
        double load = FleetWorker.meanLoadSeconds(
                        workers.stream().filter(w -> w.offersCheckpoint(checkpoint)), checkpoint)
                .orElse(0);
        return load <= 0 ? eta : eta.plus(load);
    }

    /**
     * The measured seconds per standard image of every pool with history, as a JSON object ({@code {"pool": s}}),
     * for the merge's fair-share correction (a pool without history gets none).
     */
    public String rateTable() {
        return rateTable;
    }

    private volatile String rateTable = "{}";

    /** How long a view of the fleet serves ETAs and waiting reasons (far below the presence timeout). */
    static final long FLEET_VIEW_NANOS = 250_000_000L;

    /**
     * The fleet as ETAs and waiting reasons see it: available workers per pool and counts, taken at most
     * {@link #FLEET_VIEW_NANOS} ago, and never from before the fleet's last change. Every job view and every position
     * frame asks; deciding it from the directory each time would sort the whole fleet per job, on the scheduler's
     * thread too (it builds a job view for each hand-out).
     */
    record FleetView(
            long takenNanos,
            Map<String, List<FleetWorker>> availableByPool,
            Map<String, WorkerDirectory.PoolFleet> byPool,
            Map<String, Lanes> lanes) {

        FleetView(
                long takenNanos,
                Map<String, List<FleetWorker>> availableByPool,
                Map<String, WorkerDirectory.PoolFleet> byPool) {
            this(takenNanos, availableByPool, byPool, new java.util.concurrent.ConcurrentHashMap<>());
        }

        List<FleetWorker> available(String pool) {
            return availableByPool.getOrDefault(pool, List.of());
        }
    }

    private volatile FleetView fleetView;

    FleetView fleetView() {
        FleetView v = fleetView;
        long now = System.nanoTime();
        if (v == null || now - v.takenNanos() > FLEET_VIEW_NANOS) {
            Map<String, List<FleetWorker>> available = new HashMap<>();
            for (FleetWorker w : fleet.available()) {
                available
                        .computeIfAbsent(w.pool(), p -> new java.util.ArrayList<>())
                        .add(w);
            }
            v = new FleetView(now, available, fleet.byPool());
            fleetView = v;
        }
        return v;
    }

    /** Measured GPU seconds of one standard image (512x512, 20 steps) in {@code pool}, or a default. */
    public double secondsPerStandardImage(String pool) {
        Double measured = snapshot.pool(pool).secondsPerStandardImage();
        return measured == null || !(measured > 0) ? DEFAULT_SECONDS_PER_STANDARD_IMAGE : measured;
    }

    /**
     * Why a queued job of {@code pool} cannot start however long it waits right now, for a person; null when
     * workers are there to run it.
     */
    public String blockedReason(String pool, String checkpoint) {
        FleetView view = fleetView();
        WorkerDirectory.PoolFleet workers = view.byPool().get(pool);
        if (workers == null || workers.available() + workers.paused() == 0) {
            return "No GPU is connected right now. Your job waits and starts on its own when one connects.";
        }
        if (workers.available() == 0) {
            return "No GPU is available right now (its image server is unreachable or it is restarting). Your job "
                    + "waits and starts on its own when one is back.";
        }
        if (checkpoint != null && view.available(pool).stream().noneMatch(w -> w.offersCheckpoint(checkpoint))) {
            return "No GPU offers checkpoint " + checkpoint + " right now. Your job waits and starts when one does.";
        }
        return null;
    }

    @Scheduled(fixedDelayString = "${gateway.queue.refresh-interval:1s}", initialDelay = 0)
    void refresh() {
        Map<String, QueueIndex.PoolCounts> counts = index.counts();
        Map<String, Long> queued = new HashMap<>();
        Map<String, Long> running = new HashMap<>();
        counts.forEach((pool, c) -> {
            queued.put(pool, (long) c.queued());
            running.put(pool, (long) c.running());
        });
        metrics.jobsInState(JobStatus.QUEUED, queued);
        metrics.jobsInState(JobStatus.RUNNING, running);
        metrics.activeWorkers(fleet.available().size());
        Map<String, GatewayMetrics.WorkerCounts> workers = new HashMap<>();
        fleet.byPool()
                .forEach((pool, f) ->
                        workers.put(pool, new GatewayMetrics.WorkerCounts(f.available(), f.paused(), f.refused())));
        metrics.workersInState(workers);
        Map<String, KeyMetrics.Load> perKey = new HashMap<>();
        for (Map.Entry<UUID, QueueIndex.OwnerJobs> e : index.jobsByOwner().entrySet()) {
            // names are cached: a query only for a key not seen before (or changed since)
            perKey.merge(
                    keyNames.nameOf(e.getKey()),
                    new KeyMetrics.Load(e.getValue().queued(), e.getValue().running()),
                    (a, b) -> new KeyMetrics.Load(a.queued() + b.queued(), a.running() + b.running()));
        }
        keyMetrics.keyLoads(perKey);
        try {
            snapshot = load();
            StringBuilder rates = new StringBuilder("{");
            snapshot.pools().forEach((pool, h) -> {
                if (h.secondsPerStandardImage() != null && h.secondsPerStandardImage() > 0) {
                    rates.append(rates.length() > 1 ? "," : "")
                            .append('"')
                            .append(pool)
                            .append("\":")
                            .append(h.secondsPerStandardImage());
                }
            });
            rateTable = rates.append('}').toString();
            Map<String, Double> oldest = new HashMap<>();
            for (String pool : counts.keySet()) {
                oldest.put(pool, oldestQueuedSeconds(pool));
            }
            metrics.oldestQueued(oldest);
            if (failing) {
                log.info("Queue statistics refresh works again");
                failing = false;
            }
        } catch (DataAccessException e) {
            if (!failing) {
                log.warn(
                        "Queue statistics refresh failed; keeping the last snapshot: {}",
                        e.getClass().getSimpleName());
                failing = true;
            }
        }
    }

    /** Seconds the oldest queued job of {@code pool} has waited (its lowest ticket: one index lookup). */
    private double oldestQueuedSeconds(String pool) {
        return jdbc.sql("""
                        select coalesce(extract(epoch from now() - min(created_at)), 0)::float8 from (
                            select created_at from job where pool = :pool and status = 'QUEUED' order by ticket limit 1
                        ) oldest""").param("pool", pool).query(Double.class).single();
    }

    /**
     * The job times of the pools the gateway knows now (those with waiting or running jobs, or with workers: the
     * pools of the queue overview), each from its own latest successful jobs within the history window
     * ({@code job_succeeded}: one index range per pool, never the other pools' or the failed and cancelled jobs).
     */
    QueueSnapshot load() {
        Set<String> known = new TreeSet<>(index.counts().keySet());
        known.addAll(fleet.byPool().keySet());
        Map<String, QueueSnapshot.PoolHistory> pools = new HashMap<>();
        if (known.isEmpty()) {
            return new QueueSnapshot(pools, Instant.now());
        }
        jdbc.sql("""
                        with latest as (
                            select p.pool, r.*
                            from unnest(cast(:pools as text[])) as p(pool)
                            cross join lateral (
                                select extract(epoch from finished_at - started_at)::float8 as d,
                                       case when jsonb_typeof(metadata -> 'loadMillis') = 'number'
                                            then greatest((metadata ->> 'loadMillis')::float8, 0) / 1000.0
                                            else 0 end as loaded,
                                       -- a call the worker could not split into load and generation (a fresh
                                       -- Forge's first call loads lazily): counted only while the pool has no other
                                       (metadata -> 'loadUnsplit') = 'true'::jsonb as unsplit,
                                       (spec ->> 'width')::float8 * (spec ->> 'height')::float8
                                           * (spec ->> 'steps')::float8 * greatest((spec ->> 'batchSize')::float8, 1)
                                           / (512.0 * 512.0 * 20.0) as units
                                from job
                                where job.pool = p.pool and status = 'SUCCEEDED' and started_at is not null
                                  and finished_at > now() - make_interval(secs => :history)
                                order by finished_at desc
                                limit :samples
                            ) r
                        ), recent as (
                            select *, count(*) filter (where unsplit is not true) over (partition by pool) as split
                            from latest
                        )
                        select pool, count(*) as samples, avg(greatest(d - loaded, 0)) as mean,
                               percentile_cont(0.2) within group (order by greatest(d - loaded, 0)) as low,
                               percentile_cont(0.8) within group (order by greatest(d - loaded, 0)) as high,
                               avg(least(loaded, greatest(d, 0))) as load_mean,
                               sum(greatest(d, 0)) / nullif(sum(units), 0) as per_unit
                        from recent where unsplit is not true or split = 0
                        group by pool""")
                .param("pools", known.toArray(String[]::new))
                .param("history", (double) properties.historyWindow().toSeconds())
                .param("samples", properties.historySamples())
                .query(rs -> {
                    pools.put(
                            rs.getString("pool"),
                            new QueueSnapshot.PoolHistory(
                                    rs.getInt("samples"),
                                    (Double) rs.getObject("mean"),
                                    (Double) rs.getObject("low"),
                                    (Double) rs.getObject("high"),
                                    (Double) rs.getObject("per_unit"),
                                    (Double) rs.getObject("load_mean")));
                });
        return new QueueSnapshot(pools, Instant.now());
    }
}
