package io.forgequeue.gateway.system;

import io.forgequeue.model.ErrorCode;
import io.forgequeue.model.JobStatus;
import io.forgequeue.model.Topology;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.DoubleAdder;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.stereotype.Component;

/**
 * The gateway's own meters, all under {@code gpu.gateway.*} (catalogue: docs/metrics.md). Tags have bounded values:
 * state, outcome, reason, kind, type, an {@link ErrorCode} name and the job's pool, whose values are capped by
 * {@link MetricsProperties#maxPools()}; never a job id, a key or a worker id (per-key meters, tagged with the key's
 * name and bounded on their own, are {@link KeyMetrics}).
 *
 * <p>Every series whose tag values are known in advance is registered at startup with value 0 (every outcome, every
 * error code, every refusal and rejection reason, ... of every configured pool), so {@code rate()},
 * {@code increase()} and {@code absent()} see the first event after a restart. A pool that is not configured gets
 * its series when it first appears.
 *
 * <p>Gauges read values the features push (state and worker counts from the periodic queue refresh, sessions from the socket
 * registry, outbox lag from the sweep): a scrape never queries the database. Thread-safe.
 */
@Component
public class GatewayMetrics {

    /** The {@code pool} tag of the pools beyond {@link MetricsProperties#maxPools()} (no pool name can start with '_'). */
    public static final String OTHER_POOL = "_other";
    /** The {@code code} tag of outcomes other than {@code failed}. */
    static final String NO_CODE = "none";

    static final String SUBMITTED = "gpu.gateway.jobs.submitted";
    static final String REFUSED = "gpu.gateway.jobs.refused";
    static final String FINISHED = "gpu.gateway.jobs.finished";
    static final String REQUEUED = "gpu.gateway.jobs.requeued";
    static final String STUCK = "gpu.gateway.jobs.stuck";
    static final String REDUNDANT = "gpu.gateway.jobs.redundant.attempts";
    static final String BY_STATE = "gpu.gateway.jobs.by-state";
    static final String OLDEST_QUEUED = "gpu.gateway.jobs.queue.oldest";
    static final String QUEUE_WAIT = "gpu.gateway.jobs.queue.wait";
    static final String RUN_TIME = "gpu.gateway.jobs.run.time";
    static final String WORKERS_ACTIVE = "gpu.gateway.workers.active";
    static final String WORKERS_BY_STATE = "gpu.gateway.workers.by-state";
    static final String HANDOUTS = "gpu.gateway.scheduler.handouts";
    static final String SESSIONS = "gpu.gateway.websocket.sessions";
    static final String FRAMES = "gpu.gateway.websocket.frames";
    static final String POSITION_WORK = "gpu.gateway.websocket.position.computations";
    static final String DELIVERY_LAG = "gpu.gateway.websocket.delivery.lag";
    static final String UPDATES_DROPPED = "gpu.gateway.websocket.updates.dropped";
    static final String OUTBOX_LAG = "gpu.gateway.outbox.lag";
    static final String OUTBOX_PUBLISHED = "gpu.gateway.outbox.published";
    static final String OUTBOX_FAILURES = "gpu.gateway.outbox.failures";
    static final String EVENTS_MERGED = "gpu.gateway.events.merged";
    static final String EVENTS_REJECTED = "gpu.gateway.events.rejected";
    static final String BROKER_CONNECTED = "gpu.gateway.broker.connected";
    static final String RATE_LIMITED = "gpu.gateway.rate-limited";
    static final String WORKER_MESSAGES_REFUSED = "gpu.gateway.worker-messages.refused";

    /** {@code kind} tag: a worker announcement ({@code worker.status}) refused for its publisher. */
    public static final String KIND_ANNOUNCEMENT = "announcement";
    /** {@code kind} tag: a preview ({@code relay.preview}) refused for its publisher. */
    public static final String KIND_PREVIEW = "preview";

    static final List<String> REFUSED_KINDS = List.of(KIND_ANNOUNCEMENT, KIND_PREVIEW);

    /** {@code limit} tag: a key's REST requests over {@code gateway.rate-limits.requests}. */
    public static final String LIMIT_REQUESTS = "requests";
    /** {@code limit} tag: a key's WebSocket frames over {@code gateway.rate-limits.frames}. */
    public static final String LIMIT_FRAMES = "frames";
    /** {@code limit} tag: a key's WebSocket session over {@code gateway.websocket.max-sessions-per-key}. */
    public static final String LIMIT_SESSIONS = "sessions";
    /** {@code limit} tag: a connection over {@code gateway.websocket.max-unauthenticated-sessions}. */
    public static final String LIMIT_UNAUTHENTICATED = "unauthenticated-sessions";

    static final List<String> LIMITS = List.of(LIMIT_REQUESTS, LIMIT_FRAMES, LIMIT_SESSIONS, LIMIT_UNAUTHENTICATED);

    static final List<String> REFUSAL_REASONS = List.of("validation", "cap", "idempotency", "priority");
    static final List<String> OUTBOX_KINDS = List.of("job", "cancel");
    static final List<String> OUTBOX_FAILURE_REASONS = List.of("nack", "returned", "error");
    static final List<String> MERGE_OUTCOMES = List.of("applied", "late");
    static final List<String> REJECTION_REASONS = List.of(
            "duplicate",
            "terminal",
            "stale-attempt",
            "revoked",
            "unknown-assignment",
            "illegal-transition",
            "unknown-job",
            "unreadable",
            "error",
            "wrong-publisher");
    static final List<String> FRAME_TYPES = List.of("snapshot", "update", "position", "preview", "queue");
    /** {@code kind} tag of {@link #POSITION_WORK}: a watched job's standing looked up, or its frame built (ETA). */
    static final List<String> POSITION_WORK_KINDS = List.of("standing", "frame");

    static final List<String> WORKER_STATES = List.of("available", "paused", "refused");

    private final MeterRegistry registry;
    private final int maxPools;
    private final Counter stuck;
    private final Counter redundant;
    private final Counter updatesDropped;
    private final Timer deliveryLag;
    private final AtomicLong sessions = new AtomicLong();
    private final AtomicLong activeWorkers = new AtomicLong();
    private final AtomicLong brokerConnected = new AtomicLong();
    private final DoubleAdder outboxLagSeconds = new DoubleAdder();
    private final Tagged refused;
    private final Tagged rateLimited;
    private final Tagged outboxPublished;
    private final Tagged outboxFailures;
    private final Tagged eventsMerged;
    private final Tagged eventsRejected;
    private final Tagged frames;
    private final Tagged positionWork;
    private final Tagged workerMessagesRefused;
    /** The meters of each pool that has its own series, and of {@link #OTHER_POOL} once used. */
    private final Map<String, PoolMeters> pools = new ConcurrentHashMap<>();
    /** Pools that got their own series without being configured (guarded by {@link #pools}). */
    private int unconfiguredPools;

    /** With the default settings (tests, tools). */
    public GatewayMetrics(MeterRegistry registry) {
        this(registry, MetricsProperties.defaults());
    }

    @Autowired
    public GatewayMetrics(MeterRegistry registry, MetricsProperties properties) {
        this.registry = registry;
        this.maxPools = properties.maxPools();
        redundant = Counter.builder(REDUNDANT)
                .description("Attempts a worker started of jobs that had already ended; each was asked to stop")
                .register(registry);
        stuck = Counter.builder(STUCK)
                .description(
                        "RUNNING jobs without events for the stuck threshold, failed with JOB_STUCK by this gateway")
                .register(registry);
        updatesDropped = Counter.builder(UPDATES_DROPPED)
                .description("Job updates dropped because the relay's backlog was full; the reconcile sends them")
                .register(registry);
        deliveryLag = Timer.builder(DELIVERY_LAG)
                .description("From a job change being committed (event merge, cancel, sweep) to its update frame "
                        + "being handed to a WebSocket session of this instance")
                .publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofNanos(100_000))
                .maximumExpectedValue(Duration.ofSeconds(30))
                .register(registry);
        Gauge.builder(SESSIONS, sessions, AtomicLong::get)
                .description("Open WebSocket sessions on this instance")
                .register(registry);
        Gauge.builder(WORKERS_ACTIVE, activeWorkers, AtomicLong::get)
                .description("Workers the scheduler may hand jobs to now (announcing, READY, not refused), all "
                        + "pools; per pool they are the divisor of the ETA")
                .register(registry);
        Gauge.builder(OUTBOX_LAG, outboxLagSeconds, DoubleAdder::sum)
                .baseUnit("seconds")
                .description("Age of the oldest outbox entry not yet confirmed by the broker")
                .register(registry);
        Gauge.builder(BROKER_CONNECTED, brokerConnected, AtomicLong::get)
                .description("1 while this instance holds a connection to RabbitMQ, else 0 (jobs are still "
                        + "accepted into the outbox)")
                .register(registry);
        refused = new Tagged(REFUSED, "reason", REFUSAL_REASONS);
        outboxPublished = new Tagged(OUTBOX_PUBLISHED, "kind", OUTBOX_KINDS);
        outboxFailures = new Tagged(OUTBOX_FAILURES, "reason", OUTBOX_FAILURE_REASONS);
        eventsMerged = new Tagged(EVENTS_MERGED, "outcome", MERGE_OUTCOMES);
        eventsRejected = new Tagged(EVENTS_REJECTED, "reason", REJECTION_REASONS);
        frames = new Tagged(FRAMES, "type", FRAME_TYPES);
        positionWork = new Tagged(POSITION_WORK, "kind", POSITION_WORK_KINDS);
        rateLimited = new Tagged(RATE_LIMITED, "limit", LIMITS);
        workerMessagesRefused = new Tagged(WORKER_MESSAGES_REFUSED, "kind", REFUSED_KINDS);
    }

    /**
     * Registers the series of the pools jobs may name ({@code gateway.jobs.pools}; empty means any pool, and then
     * the default pool is registered), all at zero. These pools do not count against the cap.
     */
    public void registerPools(Collection<String> configured) {
        List<String> names = configured.isEmpty() ? List.of(Topology.DEFAULT_POOL) : List.copyOf(configured);
        synchronized (pools) {
            for (String pool : names) {
                pools.computeIfAbsent(pool, PoolMeters::new);
            }
        }
    }

    public void jobSubmitted(String pool) {
        poolMeters(pool).submitted.increment();
    }

    /**
     * A submission refused before anything was stored: {@code validation}, {@code cap}, {@code idempotency},
     * {@code priority}.
     */
    public void submissionRefused(String reason) {
        refused.of(reason).increment();
    }

    /** Something refused by a rate limit or a session cap ({@link #LIMITS}). */
    public void rateLimited(String limit) {
        rateLimited.of(limit).increment();
    }

    /**
     * A job reached a terminal state through this gateway.
     *
     * @param errorCode the job's error code ({@link ErrorCode} name) when {@code outcome} is FAILED; anything else
     *                  is counted as {@code UNKNOWN}
     */
    public void jobFinished(JobStatus outcome, String pool, String errorCode) {
        if (!outcome.isTerminal()) {
            return;
        }
        String code = outcome == JobStatus.FAILED ? codeTag(errorCode) : NO_CODE;
        poolMeters(pool).finished(tag(outcome), code).increment();
    }

    /** A RUNNING job was given back to the queue (a worker's REQUEUED event merged: RUNNING to QUEUED). */
    public void jobRequeued(String pool) {
        poolMeters(pool).requeued.increment();
    }

    public void queueWait(String pool, Duration wait) {
        if (!wait.isNegative()) {
            poolMeters(pool).queueWait.record(wait);
        }
    }

    public void runTime(String pool, Duration run) {
        if (!run.isNegative()) {
            poolMeters(pool).runTime.record(run);
        }
    }

    public void stuckJobFailed() {
        stuck.increment();
    }

    /** A worker started an attempt of a job that had already ended (see {@code RedundantAttempt}). */
    public void redundantAttempt() {
        redundant.increment();
    }

    /**
     * The jobs in a non-terminal state per pool, as just read from PostgreSQL. Pools missing from the map are set
     * to 0; pools beyond the cap are summed under {@link #OTHER_POOL}.
     */
    public void jobsInState(JobStatus state, Map<String, Long> countsByPool) {
        if (state != JobStatus.QUEUED && state != JobStatus.RUNNING) {
            return;
        }
        Map<PoolMeters, Long> sums = new IdentityHashMap<>();
        countsByPool.forEach((pool, n) -> sums.merge(poolMeters(pool), n, Long::sum));
        List<PoolMeters> all;
        synchronized (pools) {
            all = new ArrayList<>(pools.values());
        }
        for (PoolMeters m : all) {
            (state == JobStatus.QUEUED ? m.queued : m.running).set(sums.getOrDefault(m, 0L));
        }
    }

    /**
     * Seconds the oldest QUEUED job of each pool has waited (0 for pools missing from the map): with the queued count,
     * what autoscaling reads, since the backlog is in PostgreSQL, not in the broker.
     */
    public void oldestQueued(Map<String, Double> secondsByPool) {
        Map<PoolMeters, Double> max = new IdentityHashMap<>();
        secondsByPool.forEach((pool, s) -> max.merge(poolMeters(pool), s, Math::max));
        List<PoolMeters> all;
        synchronized (pools) {
            all = new ArrayList<>(pools.values());
        }
        for (PoolMeters m : all) {
            m.oldestQueuedSeconds.set(Double.doubleToRawLongBits(max.getOrDefault(m, 0.0)));
        }
    }

    /**
     * The live workers of a pool by what the scheduler may do with them.
     *
     * @param available announcing, READY and not refused: the scheduler hands them jobs
     * @param paused    announcing but taking nothing now (Forge unreachable, shutting down)
     * @param refused   READY but refused because another worker drives the same Forge
     */
    public record WorkerCounts(long available, long paused, long refused) {}

    /**
     * The live workers per pool by state, as the fleet directory sees them now. Pools missing from the map are set to
     * 0; pools beyond the cap are summed under {@link #OTHER_POOL}.
     */
    public void workersInState(Map<String, WorkerCounts> countsByPool) {
        Map<PoolMeters, WorkerCounts> sums = new IdentityHashMap<>();
        countsByPool.forEach((pool, c) -> sums.merge(
                poolMeters(pool),
                c,
                (a, b) -> new WorkerCounts(
                        a.available() + b.available(), a.paused() + b.paused(), a.refused() + b.refused())));
        List<PoolMeters> all;
        synchronized (pools) {
            all = new ArrayList<>(pools.values());
        }
        WorkerCounts none = new WorkerCounts(0, 0, 0);
        for (PoolMeters m : all) {
            WorkerCounts c = sums.getOrDefault(m, none);
            m.workersAvailable.set(c.available());
            m.workersPaused.set(c.paused());
            m.workersRefused.set(c.refused());
        }
    }

    /**
     * The scheduler handed a job of {@code pool} to a worker; {@code decisionNanos} from the pick to the committed
     * assignment.
     */
    public void handedOut(String pool, long decisionNanos) {
        poolMeters(pool).handouts.record(decisionNanos, TimeUnit.NANOSECONDS);
    }

    /** Workers available to the scheduler (announcing, READY, not refused), all pools. */
    public void activeWorkers(long count) {
        activeWorkers.set(count);
    }

    /** Whether this instance holds a connection to the broker now. */
    public void brokerConnected(boolean connected) {
        brokerConnected.set(connected ? 1 : 0);
    }

    public void sessionsOpen(long count) {
        sessions.set(count);
    }

    /**
     * An update frame was handed to a WebSocket session.
     *
     * @param changedAt when the change was committed (on the gateway that made it), null when unknown (sent by an
     *                  older gateway): not recorded
     */
    public void updateDelivered(Instant changedAt) {
        if (changedAt == null) {
            return;
        }
        Duration lag = Duration.between(changedAt, Instant.now());
        deliveryLag.record(lag.isNegative() ? Duration.ZERO : lag); // clocks of two gateways may differ slightly
    }

    /** A job update was dropped: the relay's backlog ({@code gateway.websocket.max-pending-updates}) was full. */
    public void updateDropped() {
        updatesDropped.increment();
    }

    public void outboxLag(double seconds) {
        outboxLagSeconds.reset();
        outboxLagSeconds.add(seconds);
    }

    /** An outbox entry confirmed by the broker: {@code job} or {@code cancel}. */
    public void outboxPublished(String kind) {
        outboxPublished.of(kind).increment();
    }

    /** An outbox publication that will be retried or gave up: {@code nack}, {@code returned}, {@code error}. */
    public void outboxFailed(String reason) {
        outboxFailures.of(reason).increment();
    }

    /** An event merged into a job: {@code applied} (moved the job) or {@code late} (filled in older facts). */
    public void eventMerged(String outcome) {
        eventsMerged.of(outcome).increment();
    }

    /** An event that changed nothing, by reason ({@code duplicate}, {@code terminal}, {@code stale-attempt} ...). */
    public void eventRejected(String reason) {
        eventsRejected.of(reason).increment();
    }

    /**
     * A worker message refused because of its publisher (the validated {@code user_id}): an announcement of a worker
     * id that another broker user holds, or without a user while {@code gateway.security.require-publisher}; a
     * preview not published by the broker user of the worker the job is assigned to. {@code kind} is
     * {@link #KIND_ANNOUNCEMENT} or {@link #KIND_PREVIEW}.
     */
    public void workerMessageRefused(String kind) {
        workerMessagesRefused.of(kind).increment();
    }

    /**
     * A frame pushed to a WebSocket client: {@code snapshot}, {@code update}, {@code position}, {@code preview},
     * {@code queue}.
     */
    public void framePushed(String type) {
        frames.of(type).increment();
    }

    /**
     * Work of a position push: {@code standing} (a watched waiting job's place looked up in the queue index) or
     * {@code frame} (its position frame built, with the ETA; once per job and push, whatever the sessions watching).
     */
    public void positionComputed(String kind) {
        positionWork.of(kind).increment();
    }

    /** A counter with one tag (Micrometer's registry keeps one counter per value), every known value at zero. */
    private final class Tagged {
        private final String tagKey;
        private final Meter.MeterProvider<Counter> counters;

        Tagged(String name, String tagKey, List<String> known) {
            this.tagKey = tagKey;
            this.counters = Counter.builder(name).withRegistry(registry);
            known.forEach(this::of);
        }

        Counter of(String value) {
            return counters.withTag(tagKey, value);
        }
    }

    /** The meters of a pool: its own while it has some or the cap allows, else those of {@link #OTHER_POOL}. */
    private PoolMeters poolMeters(String pool) {
        PoolMeters meters = pool == null ? null : pools.get(pool);
        if (meters != null) {
            return meters;
        }
        synchronized (pools) {
            meters = pool == null ? null : pools.get(pool);
            if (meters == null) {
                if (pool != null && unconfiguredPools < maxPools) {
                    unconfiguredPools++;
                    meters = new PoolMeters(pool);
                    pools.put(pool, meters);
                } else {
                    meters = pools.computeIfAbsent(OTHER_POOL, PoolMeters::new);
                }
            }
            return meters;
        }
    }

    private static String codeTag(String errorCode) {
        if (errorCode != null) {
            for (ErrorCode code : ErrorCode.values()) {
                if (code.name().equals(errorCode)) {
                    return errorCode;
                }
            }
        }
        return ErrorCode.UNKNOWN.name();
    }

    private static String tag(JobStatus status) {
        return status.name().toLowerCase(Locale.ROOT);
    }

    /** The per-pool series, all registered (at zero) when the pool gets its own series. */
    private final class PoolMeters {

        final String pool;
        final Counter submitted;
        final Counter requeued;
        final Timer queueWait;
        final Timer runTime;
        final AtomicLong queued = new AtomicLong();
        final AtomicLong running = new AtomicLong();
        final AtomicLong oldestQueuedSeconds = new AtomicLong();
        final AtomicLong workersAvailable = new AtomicLong();
        final AtomicLong workersPaused = new AtomicLong();
        final AtomicLong workersRefused = new AtomicLong();
        final Timer handouts;
        final Meter.MeterProvider<Counter> finished;

        PoolMeters(String pool) {
            this.pool = pool;
            submitted = Counter.builder(SUBMITTED)
                    .description("Jobs accepted (202) by this gateway")
                    .tag("pool", pool)
                    .register(registry);
            requeued = Counter.builder(REQUEUED)
                    .description("RUNNING jobs given back to the queue (worker lost its Forge, shut down, ...)")
                    .tag("pool", pool)
                    .register(registry);
            queueWait = Timer.builder(QUEUE_WAIT)
                    .description("Time from submission to the start of the first attempt")
                    .tag("pool", pool)
                    .publishPercentileHistogram()
                    .minimumExpectedValue(Duration.ofMillis(10))
                    .maximumExpectedValue(Duration.ofHours(1))
                    .register(registry);
            runTime = Timer.builder(RUN_TIME)
                    .description("Time from the start of the last attempt to the outcome")
                    .tag("pool", pool)
                    .publishPercentileHistogram()
                    .minimumExpectedValue(Duration.ofMillis(100))
                    .maximumExpectedValue(Duration.ofMinutes(30))
                    .register(registry);
            Gauge.builder(BY_STATE, queued, AtomicLong::get)
                    .description("Jobs in a non-terminal state (PostgreSQL), refreshed periodically")
                    .tag("state", tag(JobStatus.QUEUED))
                    .tag("pool", pool)
                    .register(registry);
            Gauge.builder(BY_STATE, running, AtomicLong::get)
                    .description("Jobs in a non-terminal state (PostgreSQL), refreshed periodically")
                    .tag("state", tag(JobStatus.RUNNING))
                    .tag("pool", pool)
                    .register(registry);
            Gauge.builder(OLDEST_QUEUED, oldestQueuedSeconds, v -> Double.longBitsToDouble(v.get()))
                    .baseUnit("seconds")
                    .description("How long the oldest QUEUED job of the pool has waited (0 when none); with "
                            + "by-state{state=queued} the autoscaling signal")
                    .tag("pool", pool)
                    .register(registry);
            workerGauge("available", workersAvailable);
            workerGauge("paused", workersPaused);
            workerGauge("refused", workersRefused);
            handouts = Timer.builder(HANDOUTS)
                    .description("Hand-outs by the scheduler (leader only), timed from the pick to the committed "
                            + "assignment (the decision latency; the job message follows asynchronously)")
                    .tag("pool", pool)
                    .publishPercentileHistogram()
                    .minimumExpectedValue(Duration.ofNanos(50_000))
                    .maximumExpectedValue(Duration.ofSeconds(5))
                    .register(registry);
            finished = Counter.builder(FINISHED)
                    .description("Jobs that reached a terminal state through this gateway")
                    .tag("pool", pool)
                    .withRegistry(registry);
            finished(tag(JobStatus.SUCCEEDED), NO_CODE);
            finished(tag(JobStatus.CANCELLED), NO_CODE);
            for (ErrorCode code : ErrorCode.values()) {
                finished(tag(JobStatus.FAILED), code.name());
            }
        }

        private void workerGauge(String state, AtomicLong value) {
            Gauge.builder(WORKERS_BY_STATE, value, AtomicLong::get)
                    .description("Live workers of the pool (announcing within the presence timeout) by state: "
                            + "available to the scheduler, paused (taking nothing), refused (shares a Forge)")
                    .tag("state", state)
                    .tag("pool", pool)
                    .register(registry);
        }

        Counter finished(String outcome, String code) {
            return finished.withTags("outcome", outcome, "code", code);
        }
    }
}
