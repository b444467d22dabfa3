package io.forgequeue.gateway.schedule;

import io.forgequeue.gateway.apikey.ApiKeys;
import io.forgequeue.gateway.fleet.FleetWorker;
import io.forgequeue.gateway.fleet.WorkerDirectory;
import io.forgequeue.gateway.job.JobMoves;
import io.forgequeue.gateway.job.JobRow;
import io.forgequeue.gateway.queue.JobState;
import io.forgequeue.gateway.queue.Lanes;
import io.forgequeue.gateway.queue.QueueIndex;
import io.forgequeue.gateway.queue.QueueStats;
import io.forgequeue.gateway.system.BackgroundLoop;
import io.forgequeue.gateway.system.BrokerConnection;
import io.forgequeue.gateway.system.ContractMessage;
import io.forgequeue.gateway.system.DatabaseFailures;
import io.forgequeue.gateway.system.JobMessageTemplate;
import io.forgequeue.gateway.system.WireJson;
import io.forgequeue.model.CancelJobCommand;
import io.forgequeue.model.JobMessage;
import io.forgequeue.model.Topology;
import io.forgequeue.model.WorkerState;
import io.forgequeue.model.WorkerStatus;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.ToDoubleFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.amqp.AmqpException;
import org.springframework.amqp.rabbit.connection.CorrelationData;
import org.springframework.amqp.rabbit.core.RabbitTemplate;
import org.springframework.context.SmartLifecycle;
import org.springframework.dao.DataAccessException;
import org.springframework.stereotype.Component;

/**
 * The scheduler's loop, active only on the leader. Each round it takes back what must be taken back (assignments of
 * workers that are lost, gone, restarted, paused or draining, and assignments whose message was lost), promotes
 * {@code low} jobs that waited too long, then fills every available worker's free slots (1 running + lookahead)
 * with the best waiting job it may take: first in the policy's order among jobs of the worker's pool, whose
 * checkpoint and sampler its Forge offers, of keys below their running quota. Each hand-out is one guarded statement
 * ({@link JobMoves#assign}) followed by the job message to the worker's own queue (mandatory, confirmed; a return or
 * nack takes the assignment back at once). While the broker is unreachable it hands out nothing (take-backs go on).
 *
 * <p>It wakes on every change of the queue index or the fleet, and at least every
 * {@link SchedulerProperties#tick()}. One named thread ({@code scheduler}); the rest of the gateway only signals it.
 */
@Component
class Dispatcher implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(Dispatcher.class);
    /** Most low-priority jobs promoted per round. */
    private static final int PROMOTE_BATCH = 500;
    /** How often the promotion of aged low-priority jobs runs. */
    private static final long PROMOTE_EVERY_NANOS = 1_000_000_000L;
    /** After a job message could not be sent, no hand-out for this long (the connection state may lag). */
    private static final long SEND_BACKOFF_NANOS = 1_000_000_000L;

    private final SchedulerLease lease;
    private final QueueIndex index;
    private final WorkerDirectory fleet;
    private final JobMoves moves;
    private final ApiKeys keys;
    private final RabbitTemplate jobs;
    private final RabbitTemplate control;
    private final WireJson json;
    private final SchedulerProperties properties;
    private final SchedulerMetrics metrics;
    private final QueueStats stats;
    private final BrokerConnection broker;
    private final Object signal = new Object();
    private final ConcurrentLinkedQueue<Revocation> toRevoke = new ConcurrentLinkedQueue<>();
    private final UnreachableWorkers unreachable = new UnreachableWorkers();
    /** When each (job, attempt) was last told to stop, so a worker is not flooded with stops. */
    private final Map<String, Long> stopsSent = new HashMap<>();

    private boolean signalled;
    private volatile boolean running;
    private final BackgroundLoop loop = BackgroundLoop.interruptible("scheduler", this::pass);
    private volatile long leaderSinceNanos;
    /** The term ({@link #leaderSinceNanos}) the suspicions belong to. */
    private long suspicionsTerm;
    /** When the last check of the fleet's assignments ran ({@link #checkFleet}). */
    private long fleetCheckedNanos;
    /** The fleet's {@link WorkerDirectory#standings()} the last check saw; -1 (never a standing) for none this term. */
    private long fleetCheckedStandings = -1;

    private long lastPromoteNanos;
    private volatile long sendFailedNanos;
    private volatile boolean sendFailed;

    Dispatcher(
            SchedulerLease lease,
            QueueIndex index,
            WorkerDirectory fleet,
            JobMoves moves,
            ApiKeys keys,
            JobMessageTemplate jobTemplate,
            RabbitTemplate rabbitTemplate,
            WireJson json,
            SchedulerProperties properties,
            SchedulerMetrics metrics,
            QueueStats stats,
            BrokerConnection broker) {
        this.lease = lease;
        this.stats = stats;
        this.index = index;
        this.fleet = fleet;
        this.moves = moves;
        this.keys = keys;
        this.jobs = jobTemplate.template();
        this.control = rabbitTemplate;
        this.json = json;
        this.properties = properties;
        this.metrics = metrics;
        this.broker = broker;
        index.onChange(pool -> wake());
        fleet.onChange(this::wake);
        lease.onAcquired(() -> {
            leaderSinceNanos = System.nanoTime();
            wake();
        });
    }

    /** Asks for a round soon (any thread). */
    void wake() {
        synchronized (signal) {
            signalled = true;
            signal.notifyAll();
        }
    }

    /** One pass of the scheduler's thread: waits for a signal (or the tick), then runs a round if leader. */
    private void pass() throws InterruptedException {
        long tickMillis = Math.max(10, properties.tick().toMillis());
        synchronized (signal) {
            if (!signalled) {
                signal.wait(tickMillis);
            }
            signalled = false;
        }
        Optional<JobMoves.Lease> current = lease.current();
        if (current.isEmpty()) {
            toRevoke.clear();
            return;
        }
        metrics.round();
        try {
            if (round(current.get())) {
                wake(); // handed something out: there may be more to do
            }
        } catch (RuntimeException e) {
            // the database unreachable shows as a DataAccessException, or as a TransactionException when the
            // connection dies around a hand-out's transaction
            if (e instanceof DataAccessException || DatabaseFailures.isUnavailable(e)) {
                suspicions.clear(); // nothing could be merged meanwhile either
                log.warn("Scheduling round failed ({}); retrying", e.getClass().getSimpleName());
            } else {
                log.error("Scheduling round failed", e);
            }
            Thread.sleep(tickMillis);
        }
    }

    /** One round; true when it handed out at least one job. */
    boolean round(JobMoves.Lease l) {
        long now = fleet.nanoTime();
        if (suspicionsTerm != leaderSinceNanos) {
            suspicionsTerm = leaderSinceNanos;
            suspicions.clear(); // what a previous term suspected was seen before a gap in which nothing was judged
            fleetCheckedStandings = -1;
        }
        takeBackRequested(l);
        // a round runs for every change of the queue and the fleet, many a second with a large fleet, and checking
        // every assignment against its worker's reports costs a walk over the whole fleet (in the scale bench's
        // steady state with 500 workers it was most of the scheduler thread's CPU): checked at once when a worker
        // came, went, restarted, paused or fell silent (its jobs go elsewhere before anything else is decided), and
        // otherwise once per fleet-check (the rest judges what workers report, which waits that long)
        long standings = fleet.standings();
        if (standings != fleetCheckedStandings
                || now - fleetCheckedNanos >= properties.fleetCheck().toNanos()) {
            fleetCheckedNanos = now;
            fleetCheckedStandings = standings;
            checkFleet(l, now);
        }
        if (!broker.isConnected()) {
            return false; // a job message could not be published: the job would only lose an attempt
        }
        if (now - lastPromoteNanos > PROMOTE_EVERY_NANOS && properties.policy().usesPriorities()) {
            lastPromoteNanos = now;
            int promoted = moves.promoteWaitingLowPriority(properties.lowPriorityMaxWait(), PROMOTE_BATCH, l);
            if (promoted > 0) {
                metrics.promoted(promoted);
                log.info(
                        "{} low-priority job(s) waited longer than {} and now compete as normal",
                        promoted,
                        properties.lowPriorityMaxWait());
            }
        }
        // the quotas of every key that may be picked, cached with one statement for the keys not seen yet: no
        // decision waits for a look-up
        keys.loadQuotas(index.waitingOwners());
        boolean handedOut = false;
        if (!mayPublish()) {
            return false;
        }
        Map<String, List<Slot>> byPool = new HashMap<>();
        List<FleetWorker> available = fleet.available();
        UnmeasuredLoads unmeasured = new UnmeasuredLoads(available);
        Map<String, QueueIndex.PoolCounts> counts = index.counts();
        for (FleetWorker worker : available) {
            // a pool with no waiting job has nothing to hand out (most rounds of a fleet below its capacity), and the
            // slots (each worker's held jobs and busy seconds) would be most of such a round's work
            QueueIndex.PoolCounts poolCounts = counts.get(worker.pool());
            if (poolCounts != null && poolCounts.waiting() > 0 && unreachable.mayReceive(worker)) {
                Slot slot = slot(worker, unmeasured);
                waitingForConfirm.add(worker.id()); // before the look: a confirm from now on wakes the dispatcher
                if (unconfirmed.containsKey(worker.id())) {
                    slot.fullThisRound(); // its last job message is not confirmed yet: the next must not overtake it
                } else {
                    waitingForConfirm.remove(worker.id());
                }
                byPool.computeIfAbsent(worker.pool(), p -> new ArrayList<>()).add(slot);
            }
        }
        for (Map.Entry<String, List<Slot>> pool : byPool.entrySet()) {
            handedOut |= fill(pool.getKey(), counts.get(pool.getKey()), pool.getValue(), l);
        }
        passOvers.keySet().removeIf(id -> !index.isWaiting(id));
        return handedOut;
    }

    /**
     * Fills the free slots of one pool's workers, the emptiest and soonest free first; true when it handed out.
     * Decisions are taken in memory as if each committed at once, and committed together, up to
     * {@link SchedulerProperties#maxBatch()} per statement: jobs that free up together (a burst, short jobs, the jobs
     * of a lost worker) cost one commit instead of one each. When a decision did not commit (the job changed
     * meanwhile, or the lease ended), the round ends and a new one starts from what committed. A worker whose job was
     * committed before the round's end (a full batch) gets nothing more in this round: its message is not confirmed
     * yet, and the next one, sent over another channel, could overtake it.
     */
    private boolean fill(String pool, QueueIndex.PoolCounts counts, List<Slot> slots, JobMoves.Lease l) {
        Set<UUID> skip = new HashSet<>();
        RoundContext ctx = new RoundContext(pool, counts, slots, skip);
        Placement placement = properties.policy().placement();
        List<Decision> batch = new ArrayList<>();
        boolean any = false;
        boolean progress = true;
        try {
            while (progress && running && mayPublish()) {
                progress = false;
                slots.sort(Comparator.comparingInt(Slot::free).reversed().thenComparingDouble(Slot::busySeconds));
                for (Slot slot : slots) {
                    if (slot.free() <= 0 || !mayPublish()) {
                        continue;
                    }
                    long started = System.nanoTime();
                    JobState job = placement.choose(slot, ctx);
                    if (job == null) {
                        continue;
                    }
                    metrics.picked(System.nanoTime() - started);
                    progress = true;
                    if (job.attempt() >= properties.maxAttempts()) {
                        skip.add(job.id());
                        moves.failTooManyAttempts(job.id(), properties.maxAttempts(), l)
                                .ifPresent(row -> {
                                    log.error(
                                            "Job(id={}) failed: handed out {} times without finishing",
                                            row.id(),
                                            properties.maxAttempts());
                                    metrics.jobFailed(row.pool(), row.errorCode());
                                    index.apply(row.toQueueState());
                                });
                        continue;
                    }
                    // the pool's virtual time follows the head of the fair order, not a job placement took out of
                    // it; jobs decided earlier in this batch are no longer part of that order
                    JobState head = index.pick(pool, s -> s.priority() == job.priority(), skip);
                    skip.add(job.id());
                    double clockTag = head == null ? job.tag() : Math.min(job.tag(), head.tag());
                    batch.add(new Decision(slot, job, clockTag, slot.needsSwitch(job), ctx.forced(job), started));
                    String loadedBefore = slot.loadedNext();
                    slot.assigned(job);
                    ctx.assigned(slot, loadedBefore, job);
                    pendingByOwner.merge(job.owner(), 1, Integer::sum);
                    if (batch.size() >= properties.maxBatch()) {
                        Committed c = commitEarly(batch, ctx, l);
                        any |= c.any();
                        if (!c.complete()) {
                            return any;
                        }
                    }
                }
            }
            any |= commit(batch, l) > 0;
            return any;
        } finally {
            pendingByOwner.clear();
        }
    }

    /**
     * Commits a full {@code batch} before the round ends. The workers it gave jobs to are full for the rest of the
     * round: their messages are not confirmed yet (a confirm wakes the dispatcher, and a round that handed out starts
     * another at once). Not complete when a decision did not commit: what the round assumed of it is wrong, so the
     * round must end (a new one is asked for).
     */
    private Committed commitEarly(List<Decision> batch, RoundContext ctx, JobMoves.Lease l) {
        int decided = batch.size();
        List<Slot> given = new ArrayList<>(decided);
        for (Decision d : batch) {
            given.add(d.slot());
        }
        int committed = commit(batch, l);
        ctx.committed();
        if (committed < decided) {
            wake();
            return new Committed(committed > 0, false);
        }
        for (Slot slot : given) {
            waitingForConfirm.add(slot.worker().id());
            slot.fullThisRound();
        }
        return new Committed(committed > 0, true);
    }

    /** What an early commit did: whether it handed out, and whether every decision of the batch committed. */
    private record Committed(boolean any, boolean complete) {}

    /** A hand-out decided in memory, not committed yet. */
    private record Decision(
            Slot slot, JobState job, double clockTag, boolean switching, boolean forced, long startedNanos) {}

    /** Jobs per key decided in the current batch: they count against the key's running quota like assigned ones. */
    private final Map<UUID, Integer> pendingByOwner = new HashMap<>();

    /**
     * Commits {@code batch} in one statement, then publishes the job message of each committed hand-out; returns
     * how many committed. Clears the batch.
     */
    private int commit(List<Decision> batch, JobMoves.Lease l) {
        if (batch.isEmpty()) {
            return 0;
        }
        List<JobMoves.Assignment> assignments = new ArrayList<>(batch.size());
        for (Decision d : batch) {
            assignments.add(new JobMoves.Assignment(
                    d.job().id(), d.slot().worker().id(), d.slot().worker().brokerUser(), d.clockTag()));
        }
        long asked = System.nanoTime();
        List<JobMoves.Assigned> committed = moves.assignAll(assignments, properties.maxAttempts(), l);
        long now = System.nanoTime();
        metrics.committed(now - asked);
        Map<UUID, JobMoves.Assigned> byJob = new HashMap<>();
        for (JobMoves.Assigned a : committed) {
            byJob.put(a.row().id(), a);
            index.apply(a.row().toQueueState());
        }
        List<JobMessage> messages = new ArrayList<>(committed.size());
        for (Decision d : batch) {
            JobMoves.Assigned assigned = byJob.get(d.job().id());
            if (assigned == null) {
                continue; // it changed meanwhile (cancelled, or the lease ended); its notification follows
            }
            JobRow row = assigned.row();
            metrics.handedOut(row.pool(), now - d.startedNanos()); // the decision: pick + committed assignment
            passOvers.remove(row.id());
            messages.add(assigned.message());
            if (d.switching()) {
                metrics.switching();
            }
            if (d.forced()) {
                metrics.forced();
            }
            log.debug(
                    "Job(id={}) attempt {} assigned to worker {}{}",
                    row.id(),
                    row.attempt(),
                    d.slot().worker().id(),
                    d.switching() ? " (checkpoint switch)" : "");
        }
        publish(messages);
        batch.clear();
        pendingByOwner.clear();
        return committed.size();
    }

    /**
     * The load time assumed for a worker that has not loaded a checkpoint yet: the mean of what the pool's other
     * workers measured for it, else {@code affinity.default-load-seconds}. Without the fleet's measurement a worker
     * that never loaded a checkpoint assumed the default (10 s) for ever, so it never found a switch to it worth it
     * and never measured it (issue 17's mixed-fleet benchmark: checkpoints of 2-4 s, no switch at all). Per round.
     */
    private final class UnmeasuredLoads {

        private final List<FleetWorker> workers;
        private final Map<String, Double> seconds = new HashMap<>();

        UnmeasuredLoads(List<FleetWorker> workers) {
            this.workers = workers;
        }

        ToDoubleFunction<String> forPool(String pool) {
            return checkpoint -> seconds.computeIfAbsent(
                    pool + "\n" + Placement.CheckpointKey.of(checkpoint),
                    k -> FleetWorker.meanLoadSeconds(
                                    workers.stream().filter(w -> w.pool().equals(pool)), checkpoint)
                            .orElse(properties.affinity().defaultLoadSeconds()));
        }
    }

    /** A worker as this round sees it: free slots, the checkpoint it will have loaded, how long it is busy. */
    private Slot slot(FleetWorker worker, UnmeasuredLoads unmeasured) {
        double perUnit = stats.secondsPerStandardImage(worker.pool());
        Lanes.WorkerLoad load =
                Lanes.WorkerLoad.of(worker, index.heldBy(worker.id()), perUnit, System.currentTimeMillis());
        return new Slot(
                worker,
                properties.slotsPerWorker() - load.holding(),
                load.loadedNext(),
                load.busySeconds(),
                unmeasured.forPool(worker.pool()),
                perUnit);
    }

    /** When a waiting job was first passed over for affinity, and how often since. */
    private record PassOver(int count, long firstNanos) {}

    /** Jobs passed over for affinity (leader memory; a new leader starts counting afresh). */
    private final Map<UUID, PassOver> passOvers = new HashMap<>();

    /** What the placement rules see of one pool in one round. */
    private final class RoundContext implements Placement.Context {

        private final String pool;
        private final List<Slot> slots;
        private final Set<UUID> skip;
        private final Map<String, Integer> waiting;
        private final double secondsPerUnit;

        /** {@code counts}: the pool's counts as the round found them (it fills only pools with waiting jobs). */
        RoundContext(String pool, QueueIndex.PoolCounts counts, List<Slot> slots, Set<UUID> skip) {
            this.pool = pool;
            this.secondsPerUnit = stats.secondsPerStandardImage(pool);
            this.slots = slots;
            this.skip = skip;
            this.waiting = counts.perCheckpoint();
        }

        @Override
        public List<JobState> candidates(Slot slot) {
            FleetWorker worker = slot.worker();
            return index.candidates(
                    pool, s -> mayTake(worker, s), properties.affinity().lookahead(), skip);
        }

        @Override
        public int waiting(String checkpoint) {
            return waiting.getOrDefault(checkpoint == null ? "" : checkpoint, 0);
        }

        @Override
        public boolean forced(JobState job) {
            PassOver p = passOvers.get(job.id());
            return p != null
                    && (p.count() >= properties.affinity().maxPassOvers()
                            || System.nanoTime() - p.firstNanos()
                                    >= properties.affinity().maxDelay().toNanos());
        }

        @Override
        public void declined(JobState job) {
            passOvers.putIfAbsent(job.id(), new PassOver(0, System.nanoTime()));
        }

        @Override
        public void passedOver(JobState job) {
            metrics.passedOver();
            passOvers.merge(
                    job.id(),
                    new PassOver(1, System.nanoTime()),
                    (a, b) -> new PassOver(a.count() + 1, a.firstNanos()));
        }

        /**
         * Per canonical checkpoint, the available workers that have it loaded (and offer it): when each could start a
         * job, soonest first. Computed once per round and checkpoint, dropped for the checkpoints an assignment changes
         * ({@link #assigned}). Asking every other worker for every candidate of every free worker would cost slots x
         * candidates x workers per round, so a new leader or a fleet that came back idle would wait for its first
         * hand-outs.
         */
        private final Map<String, Lanes.Lane> holders = new HashMap<>();

        private Lanes.Lane holdersOf(JobState job) {
            return holders.computeIfAbsent(Placement.CheckpointKey.of(job.checkpoint()), k -> {
                double[] busy = new double[slots.size()];
                int n = 0;
                for (Slot other : slots) {
                    if (!other.needsSwitch(job) && other.worker().offersCheckpoint(job.checkpoint())) {
                        busy[n++] = other.busySeconds();
                    }
                }
                return Lanes.Lane.of(Arrays.copyOf(busy, n));
            });
        }

        /** Whether a worker that needs no switch for {@code job} would start it before {@code here} seconds. */
        private boolean warmWorkerSooner(JobState job, Slot worker, double here) {
            for (Slot other : slots) {
                if (other != worker
                        && !other.needsSwitch(job)
                        && other.worker().offersCheckpoint(job.checkpoint())
                        && other.busySeconds() < here) {
                    return true;
                }
            }
            return false;
        }

        /**
         * Whether the workers that have the job's checkpoint loaded would start the job no later than {@code worker}
         * could (after its work and the switch). A worker that needs no switch itself answers for the one job. One that
         * needs a switch answers for the checkpoint's whole waiting backlog: the workers holding it start its last
         * waiting job after the work before it ({@link Lanes.Lane#lastStart}; the backlog is {@link QueueIndex#backlog},
         * kept as jobs come and go, so this costs no scan), and if that is later than this worker could start one, the
         * switch saves waiting. Looking at the held work alone, one busy GPU holding a checkpoint with 30 jobs waiting
         * made every idle GPU decline them (it "starts the next one in 5 s"; it starts the 30th in 75 s).
         */
        @Override
        public boolean cheaperElsewhere(JobState job, Slot worker) {
            QueueIndex.Backlog indexed = index.backlog(pool, job.checkpoint());
            QueueIndex.Backlog undecided = decided.get(Placement.CheckpointKey.of(job.checkpoint()));
            int jobs = indexed.jobs() - (undecided == null ? 0 : undecided.jobs());
            double cost = Math.max(0, indexed.cost() - (undecided == null ? 0 : undecided.cost()));
            double jobSeconds = jobs <= 0 ? 0 : cost * secondsPerUnit / jobs;
            return startsNoLater(job, worker, Math.max(1, jobs), jobSeconds);
        }

        @Override
        public boolean startsNoLaterElsewhere(JobState job, int ahead, Slot worker) {
            return startsNoLater(job, worker, ahead + 1, job.cost() * secondsPerUnit);
        }

        /**
         * Whether the workers that have the job's checkpoint loaded start the last of its first {@code jobs} waiting
         * jobs (each of {@code jobSeconds}) no later than {@code worker} could start the job, after its work and the
         * switch. A worker that needs no switch itself answers for the one job (not how placement asks; kept exact).
         */
        private boolean startsNoLater(JobState job, Slot worker, int jobs, double jobSeconds) {
            double here = worker.busySeconds() + worker.switchSeconds(job);
            if (!worker.needsSwitch(job)) {
                return warmWorkerSooner(job, worker, here);
            }
            // the worker itself needs a switch for the job, so it is not among those that have it loaded
            Lanes.Lane h = holdersOf(job);
            return h.count() > 0 && h.lastStart(jobs, jobSeconds) <= here;
        }

        /**
         * Per canonical checkpoint, the jobs decided in this round and not committed yet: the index still counts them
         * in the checkpoint's waiting backlog.
         */
        private final Map<String, QueueIndex.Backlog> decided = new HashMap<>();

        /** {@code slot}, which had {@code loadedBefore} loaded, was given {@code job} in this round. */
        void assigned(Slot slot, String loadedBefore, JobState job) {
            holders.remove(Placement.CheckpointKey.of(loadedBefore));
            holders.remove(Placement.CheckpointKey.of(job.checkpoint()));
            decided.merge(
                    Placement.CheckpointKey.of(job.checkpoint()),
                    new QueueIndex.Backlog(1, job.cost()),
                    (a, b) -> new QueueIndex.Backlog(a.jobs() + b.jobs(), a.cost() + b.cost()));
        }

        /** The decisions so far were committed (or dropped): the index's backlog is current again. */
        void committed() {
            decided.clear();
        }

        @Override
        public long nowMillis() {
            return System.currentTimeMillis();
        }
    }

    /**
     * Whether job messages can be sent now: the broker is connected and no send failed within the backoff. Without
     * this, a broker outage turned every hand-out into an attempt that could not be sent and was taken back at once,
     * so a job failed with TOO_MANY_ATTEMPTS within a second while its worker still counted as alive.
     */
    private boolean mayPublish() {
        return broker.isConnected() && !(sendFailed && System.nanoTime() - sendFailedNanos < SEND_BACKOFF_NANOS);
    }

    /** Whether {@code worker} may be given {@code job}: its Forge offers what the job names, the key has room. */
    private boolean mayTake(FleetWorker worker, JobState job) {
        return worker.offersCheckpoint(job.checkpoint())
                && worker.offersSampler(job.sampler())
                && keys.quotaOf(job.owner())
                        .mayRunMore(index.heldByOwner(job.owner()) + pendingByOwner.getOrDefault(job.owner(), 0));
    }

    /**
     * Workers with job messages the broker has not confirmed yet, and how many. A worker's job messages must reach its
     * queue in the order they were decided (its running job before its lookahead; a high-priority job first). The
     * template borrows a channel per operation, and a channel with unconfirmed messages is not lent again until they
     * are confirmed, so two messages sent one after the other can travel on two channels, and the broker routes each
     * channel on its own: the second may be queued first. So a batch's messages are sent over one channel, in
     * order ({@link RabbitTemplate#invoke}), and a worker gets no new hand-out while one of its messages is
     * unconfirmed: once confirmed, it is in the queue, ahead of whatever is sent next.
     */
    private final Map<String, Integer> unconfirmed = new ConcurrentHashMap<>();

    /** Workers a round gave nothing because of {@link #unconfirmed}: their confirm wakes the dispatcher. */
    private final Set<String> waitingForConfirm = ConcurrentHashMap.newKeySet();

    /** Publishes a batch's job messages over one channel, in order, each mandatory and confirmed. */
    private void publish(List<JobMessage> messages) {
        if (messages.isEmpty()) {
            return;
        }
        List<CorrelationData> correlations = new ArrayList<>(messages.size());
        for (JobMessage message : messages) {
            unconfirmed.merge(message.workerId(), 1, Integer::sum);
            correlations.add(new CorrelationData(message.jobId() + "/" + message.attempt()));
        }
        int[] sent = {0};
        try {
            jobs.invoke(ops -> {
                for (int i = 0; i < messages.size(); i++) {
                    JobMessage message = messages.get(i);
                    // the default exchange: routing key = the worker's queue name, a binding no worker can add
                    ops.send(
                            Topology.HANDOUT_EXCHANGE,
                            Topology.workerQueue(message.workerId()),
                            ContractMessage.persistent(
                                    json.toBytes(message), message.jobId() + "/" + message.attempt()),
                            correlations.get(i));
                    sent[0]++;
                }
                return null;
            });
        } catch (AmqpException e) {
            sendFailedNanos = System.nanoTime();
            sendFailed = true;
            for (int i = sent[0]; i < messages.size(); i++) {
                JobMessage message = messages.get(i);
                confirmed(message.workerId());
                log.warn(
                        "Job(id={}) message to worker {} not sent ({}); taking the assignment back",
                        message.jobId(),
                        message.workerId(),
                        e.getClass().getSimpleName());
                revokeLater(message, "returned", "its job message could not be sent to the worker");
            }
        }
        for (int i = 0; i < sent[0]; i++) {
            JobMessage message = messages.get(i);
            CorrelationData correlation = correlations.get(i);
            correlation.getFuture().whenComplete((confirm, error) -> {
                confirmed(message.workerId());
                if (error != null || confirm == null || !confirm.ack()) {
                    log.warn(
                            "Job(id={}) message to worker {} not confirmed; taking the assignment back",
                            message.jobId(),
                            message.workerId());
                    revokeLater(message, "returned", "the broker did not take its job message");
                } else if (correlation.getReturned() != null) {
                    log.warn(
                            "Job(id={}) message returned: worker {} has no queue (gone); taking the assignment back",
                            message.jobId(),
                            message.workerId());
                    unreachable.returned(message.workerId(), fleet.get(message.workerId()));
                    revokeLater(message, "returned", "the worker it was given to was gone");
                }
            });
        }
    }

    private void confirmed(String workerId) {
        unconfirmed.computeIfPresent(workerId, (w, n) -> n > 1 ? n - 1 : null);
        if (!unconfirmed.containsKey(workerId) && waitingForConfirm.remove(workerId)) {
            wake(); // a round passed it over for this confirm
        }
    }

    private void revokeLater(JobMessage message, String reasonTag, String reason) {
        toRevoke.add(new Revocation(message.jobId(), message.attempt(), message.workerId(), reasonTag, reason));
        wake();
    }

    private record Revocation(UUID jobId, int attempt, String worker, String tag, String reason) {}

    /** Takes back the hand-outs their workers returned or did not confirm (asked for between rounds). */
    private void takeBackRequested(JobMoves.Lease l) {
        for (Revocation r; (r = toRevoke.poll()) != null; ) {
            Revocation rev = r;
            moves.revokeAssignment(r.jobId(), r.attempt(), r.worker(), r.reason(), l)
                    .ifPresent(row -> {
                        metrics.revoked(rev.tag(), 1);
                        index.apply(row.toQueueState());
                        sendStop(rev.jobId(), rev.attempt(), rev.worker());
                    });
        }
    }

    /**
     * Takes back every assignment of a worker that is lost (silent past the presence timeout), gone or unknown (after
     * the grace of one presence timeout from becoming leader); the assignments a worker got before it restarted; the
     * not-started ones of a worker that paused or drains; those a worker evidently never received (idle twice
     * since). Also tells workers to stop attempts they report that are no longer theirs.
     */
    private void checkFleet(JobMoves.Lease l, long now) {
        long timeout = fleet.timeoutNanos();
        // workers are judged silent only after this gateway could hear them for a whole presence timeout (it became
        // leader, or its broker connection came back, that long ago); after a lost connection the workers, cut off
        // too, reconnect on their own schedule: they get the reconnect grace on top
        long hearingSince = broker.hearingSinceNanos(now)
                + (broker.isReconnection() ? properties.reconnectGrace().toNanos() : 0);
        boolean judging = now - Math.max(leaderSinceNanos, hearingSince) > timeout;
        // an instance that replaced one this gateway heard, or was first heard later than a presence timeout after
        // this gateway could hear workers, is a process that started since; a first instance heard sooner may just
        // be the first this gateway heard of a worker that ran all along
        long newInstancesAfter = hearingSince + timeout;
        Set<String> evaluated = new HashSet<>();
        for (String workerId : index.workersHolding()) {
            Optional<FleetWorker> known = fleet.get(workerId);
            if (known.isEmpty()) {
                if (judging) {
                    revokeAll(workerId, "lost", "worker " + workerId + " is not announcing itself", l);
                }
                continue;
            }
            FleetWorker w = known.get();
            if (w.state() == WorkerState.GONE) {
                // it will start nothing more; its running job it delivered or gave back before the goodbye, but that
                // event comes through the events queue and may be merged after the goodbye: taking the job back at
                // once would reject the outcome and run the job again
                boolean graceOver =
                        now - w.lastSeenNanos() > properties.goodbyeGrace().toNanos();
                revokeAll(
                        workerId,
                        graceOver ? JobMoves.Scope.ALL : JobMoves.Scope.NOT_STARTED,
                        "gone",
                        "worker " + workerId + " shut down",
                        l);
                continue;
            }
            if (!fleet.isAlive(w)) {
                if (judging) {
                    revokeAll(
                            workerId,
                            "lost",
                            "worker " + workerId + " lost (no announcement for "
                                    + (now - w.lastSeenNanos()) / 1_000_000_000 + " s)",
                            l);
                }
                continue;
            }
            for (QueueIndex.Held h : index.heldBy(workerId)) {
                evaluated.add(h.job().id() + "/" + h.job().attempt());
                TakeBack why = takeBackReason(w, h, newInstancesAfter);
                if (why != null) {
                    moves.revokeAssignment(h.job().id(), h.job().attempt(), workerId, why.reason(), l)
                            .ifPresent(row -> {
                                metrics.revoked(why.tag(), 1);
                                log.info(
                                        "Job(id={}) attempt {} taken back from worker {}: {}",
                                        row.id(),
                                        h.job().attempt(),
                                        workerId,
                                        why.reason());
                                index.apply(row.toQueueState());
                                sendStop(h.job().id(), h.job().attempt(), workerId);
                            });
                }
            }
        }
        for (FleetWorker w : fleet.all()) {
            if (w.running() != null && fleet.isAlive(w)) {
                stopIfNotTheirs(w, w.running(), now);
            }
        }
        suspicions.retainAll(evaluated);
    }

    /** Why an assignment is taken back from a live worker: a metric tag and a reason for people. */
    private record TakeBack(String tag, String reason) {}

    /** Assignments under suspicion of being lost, by "jobId/attempt". */
    private final Suspicions suspicions = new Suspicions();

    /**
     * Why this assignment should be taken back from a live worker, or null: it was assigned before the worker
     * restarted, the worker paused or drains before starting it, or the worker does not report it although it should
     * ({@link Suspicions}: its message or its outcome was lost).
     *
     * <p>A restart is judged only for an instance that is new: it replaced an instance this gateway heard, or it was
     * first heard more than a presence timeout after this gateway could hear workers ({@code newInstancesAfter}).
     * Right after the gateway starts it learns the assignments from the database before the first status of their
     * workers arrives; every assignment then looked older than its worker's instance and was taken back as
     * "restarted", so a job that finished while the only gateway was down ran a second time (issue 18's browser
     * test, 1 run in 3). A worker that did restart unheard is left to the other rules: it does not report the
     * assignment ({@link Suspicions}).
     */
    private TakeBack takeBackReason(FleetWorker w, QueueIndex.Held h, long newInstancesAfter) {
        boolean newInstance = w.replacedInstance() || w.instanceSeenNanos() - newInstancesAfter > 0;
        if (h.seenNanos() - w.instanceSeenNanos() < 0 && newInstance) {
            return new TakeBack("restarted", "assigned before worker " + w.id() + " restarted");
        }
        if (!h.running() && w.state() == WorkerState.PAUSED) {
            return new TakeBack("paused", "worker " + w.id() + " paused (its Forge is unavailable)");
        }
        if (!h.running() && w.state() == WorkerState.DRAINING) {
            return new TakeBack("paused", "worker " + w.id() + " is shutting down");
        }
        String key = h.job().id() + "/" + h.job().attempt();
        long since = h.running() ? h.runningSinceNanos() : h.seenNanos();
        WorkerStatus.Assignment reported = w.running();
        boolean matches = reported != null
                && reported.jobId().equals(h.job().id())
                && reported.attempt() == h.job().attempt();
        boolean missing = h.running() ? !matches : reported == null && w.state() == WorkerState.READY;
        if (!missing
                || w.lastSeenNanos() - since <= properties.lostMessageGrace().toNanos()) {
            suspicions.cleared(key);
            return null;
        }
        if (!suspicions.missed(key, h.running(), w.lastSeenNanos(), w.seq(), w.intervalNanos())) {
            return null;
        }
        return h.running()
                ? new TakeBack("lost-message", "worker " + w.id() + " no longer reports it")
                : new TakeBack("lost-message", "worker " + w.id() + " never received it");
    }

    private void revokeAll(String workerId, String tag, String reason, JobMoves.Lease l) {
        revokeAll(workerId, JobMoves.Scope.ALL, tag, reason, l);
    }

    private void revokeAll(String workerId, JobMoves.Scope scope, String tag, String reason, JobMoves.Lease l) {
        List<JobRow> rows = moves.revokeWorker(workerId, scope, reason, l);
        if (!rows.isEmpty()) {
            metrics.revoked(tag, rows.size());
            log.warn("{}: {} job(s) go back to the queue", reason, rows.size());
            rows.forEach(row -> {
                index.apply(row.toQueueState());
                sendStop(row.id(), row.attempt(), workerId);
            });
        }
    }

    /** A worker reports running an attempt that is not (or no longer) its assignment: tell it to stop. */
    private void stopIfNotTheirs(FleetWorker w, WorkerStatus.Assignment running, long now) {
        boolean theirs = index.heldBy(w.id()).stream()
                .anyMatch(h -> h.job().id().equals(running.jobId()) && h.job().attempt() == running.attempt());
        if (theirs) {
            return;
        }
        // the assignment may be so new that its notification has not arrived: only act on it after the grace
        String key = running.jobId() + "/" + running.attempt() + "/" + w.id();
        Long last = stopsSent.get(key);
        if (last == null) {
            stopsSent.put(
                    key,
                    now
                            - properties.stopRepeat().toNanos()
                            + properties.lostMessageGrace().toNanos());
            return;
        }
        if (now - last < properties.stopRepeat().toNanos()) {
            return;
        }
        stopsSent.put(key, now);
        if (stopsSent.size() > 10_000) {
            stopsSent.clear();
        }
        sendStop(running.jobId(), running.attempt(), w.id());
        log.info(
                "Job(id={}) attempt {} is not worker {}'s any more (revoked or finished): told it to stop",
                running.jobId(),
                running.attempt(),
                w.id());
    }

    /**
     * Tells {@code worker} to stop {@code attempt} of a job (and nobody else). Best effort. Sent for every assignment
     * taken back, at once: a worker that still has the job message (a frozen worker, or a lookahead taken for lost
     * while it waited behind other messages) skips it when it arrives instead of running it, and a worker still
     * running the attempt interrupts it; one that reports running it later is told again ({@code stopIfNotTheirs}).
     */
    void sendStop(UUID jobId, int attempt, String worker) {
        metrics.stopSent();
        try {
            CancelJobCommand stop = new CancelJobCommand(jobId, Instant.now(), attempt, worker);
            control.send(
                    Topology.CONTROL_EXCHANGE,
                    "",
                    ContractMessage.persistent(json.toBytes(stop), jobId + "/stop-" + attempt));
        } catch (AmqpException e) {
            log.warn(
                    "Job(id={}): could not tell worker {} to stop attempt {}: {}",
                    jobId,
                    worker,
                    attempt,
                    e.getMessage());
        }
    }

    @Override
    public void start() {
        running = true;
        if (properties.enabled()) {
            loop.start();
        }
    }

    @Override
    public void stop() {
        running = false;
        loop.stop(5000);
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    /** Stops before the lease is released (the lease's phase is lower). */
    @Override
    public int getPhase() {
        return Integer.MAX_VALUE - 1900;
    }
}
