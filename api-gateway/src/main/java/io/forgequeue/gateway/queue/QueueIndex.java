package io.forgequeue.gateway.queue;

import io.forgequeue.model.JobStatus;
import io.forgequeue.model.WorkerStatus;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import java.util.function.Predicate;

/**
 * The queue as the scheduler sees it, in memory on every gateway: per pool the jobs waiting for a hand-out in the
 * scheduler's order, and every job that holds a GPU slot (assigned or running) by worker and by key. Kept from
 * PostgreSQL's notifications (and the scheduler's own changes, applied at once); each job's state carries the row's
 * version, so an older state never overwrites a newer one.
 *
 * <p>Reads: a job's position (1 + the pool's assigned jobs that have not started + the waiting jobs before it in
 * the order), how many of those are the owner's own, counts per pool and per checkpoint, and, for the leader, the
 * best waiting job a worker may take ({@link #pick}). Positions cost an order-statistic lookup, never a query.
 * Thread-safe (one monitor; every operation is short).
 */
public final class QueueIndex {

    /** Removed jobs whose version is remembered, so a late older state cannot bring them back. */
    private static final int TOMBSTONES = 100_000;

    private final Comparator<JobState> order;
    private final boolean fairShare;
    private final boolean lanes;
    private final LongSupplier nanoClock;
    private final Map<UUID, JobState> waiting = new HashMap<>();
    private final Map<UUID, Held> held = new HashMap<>();
    private final Map<String, Pool> pools = new TreeMap<>();
    private final Map<String, Set<UUID>> byWorker = new HashMap<>();
    private final Map<UUID, Integer> heldByOwner = new HashMap<>();
    private final Map<UUID, Long> removedVersions = new LinkedHashMap<>(16, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<UUID, Long> eldest) {
            return size() > TOMBSTONES;
        }
    };
    private final List<Consumer<String>> listeners = new CopyOnWriteArrayList<>();
    /** Per pool, how fast each key submitted lately: the jobs it may still submit ahead of another's (ETAs). */
    private final Map<String, Map<UUID, Arrivals>> arrivals = new HashMap<>();

    private boolean reloading;
    private long changes;

    /** Time constant of the submission rates ({@link Arrivals}). */
    static final double ARRIVAL_SECONDS = 30.0;
    /** Keys whose submissions an ETA looks at one by one; more are taken together. */
    static final int INFLOW_KEYS = 64;

    /**
     * How fast one key submitted jobs to one pool lately, an exponentially decaying sum of their costs (time constant
     * {@link #ARRIVAL_SECONDS}), and where its fair tags end.
     *
     * @param decayedCost the costs submitted, each decayed to {@code lastNanos}
     * @param lastNanos   the last submission
     * @param firstNanos  the first submission this gateway saw (a young series is divided by its age, not by the time
     *                    constant, or every key would look slow for the first half minute)
     * @param tagEnd      the highest fair tag + cost of its jobs seen: its next job is tagged no earlier
     */
    record Arrivals(double decayedCost, long lastNanos, long firstNanos, double tagEnd) {

        Arrivals plus(JobState s, long now) {
            return new Arrivals(
                    decayedCost * decay(now - lastNanos) + s.cost(),
                    now,
                    firstNanos,
                    Math.max(tagEnd, s.tag() + s.cost()));
        }

        /** Cost submitted per second, now. */
        double costPerSecond(long now) {
            double age = Math.max(5.0, (now - firstNanos) / 1e9);
            return decayedCost * decay(now - lastNanos) / (ARRIVAL_SECONDS * (1 - Math.exp(-age / ARRIVAL_SECONDS)));
        }

        private static double decay(long nanos) {
            return Math.exp(-Math.max(0, nanos) / 1e9 / ARRIVAL_SECONDS);
        }
    }

    /**
     * @param order     the scheduler's order of waiting jobs (a total order: ties end on the unique ticket)
     * @param nanoClock {@link System#nanoTime()} in production; when this gateway learned of an assignment
     */
    public QueueIndex(Comparator<JobState> order, LongSupplier nanoClock) {
        this(order, false, nanoClock);
    }

    /**
     * @param fairShare whether {@code order} is the fair order (priority, fair tag, ticket): then a standing also
     *                  projects the jobs of other keys that will be tagged before a job ({@link Standing#etaPosition})
     */
    public QueueIndex(Comparator<JobState> order, boolean fairShare, LongSupplier nanoClock) {
        this(order, fairShare, false, nanoClock);
    }

    /**
     * @param lanes whether the scheduler places jobs by checkpoint (a GPU that has a job's checkpoint loaded takes it
     *              out of the order): then a standing also counts the waiting jobs of the job's own checkpoint ahead
     *              of it ({@link Standing#laneAhead}), for an ETA that follows the GPUs holding that checkpoint
     */
    public QueueIndex(Comparator<JobState> order, boolean fairShare, boolean lanes, LongSupplier nanoClock) {
        this.order = order;
        this.fairShare = fairShare;
        this.lanes = lanes;
        this.nanoClock = nanoClock;
    }

    /**
     * A job holding a GPU slot.
     *
     * @param seenNanos         when this gateway learned of the assignment ({@link System#nanoTime()})
     * @param runningSinceNanos when this gateway learned that it runs, or 0 while it has not started
     */
    public record Held(JobState job, long seenNanos, long runningSinceNanos) {

        public boolean running() {
            return job.status() == JobStatus.RUNNING;
        }
    }

    /** The waiting jobs of one pool. */
    private final class Pool {
        final RankedSet<JobState> ranked = new RankedSet<>(order);
        /** Waiting jobs grouped by (owner, checkpoint, sampler): the scheduler picks among the groups' heads. */
        final Map<GroupKey, RankedSet<JobState>> groups = new HashMap<>();

        final Map<UUID, Set<GroupKey>> groupsOfOwner = new HashMap<>();
        final TreeSet<JobState> heads = new TreeSet<>(order);
        final Map<String, Integer> perCheckpoint = new HashMap<>();
        /** With lanes, the waiting jobs of each canonical checkpoint in the order (jobs without one are left out). */
        final Map<String, RankedSet<JobState>> byCheckpoint = new HashMap<>();
        /** Waiting work per canonical checkpoint ("" for none), kept as jobs enter and leave: no scan per decision. */
        final Map<String, Backlog> backlogs = new HashMap<>();
        /** Summed cost of the waiting jobs. */
        double waitingCost;

        int assignedNotStarted;
        int running;
    }

    private record GroupKey(UUID owner, String checkpoint, String sampler) {
        static GroupKey of(JobState s) {
            return new GroupKey(s.owner(), s.checkpoint(), s.sampler());
        }
    }

    /** Called with the pool after every change of the index (and with null after a reload). */
    public void onChange(Consumer<String> listener) {
        listeners.add(listener);
    }

    /** Applies a job's new state; an older state than the one known is ignored. */
    public void apply(JobState state) {
        String changedPool;
        synchronized (this) {
            changedPool = applyLocked(state) ? state.pool() : null;
        }
        if (changedPool != null) {
            fire(changedPool);
        }
    }

    /** Replaces everything with {@code states}: every job that is QUEUED or assigned, as a reload read them. */
    public void replaceAll(Collection<JobState> states) {
        synchronized (this) {
            waiting.clear();
            held.clear();
            pools.clear();
            byWorker.clear();
            heldByOwner.clear();
            removedVersions.clear();
            reloading = true; // the jobs a reload finds were not submitted now: no arrivals
            try {
                for (JobState s : states) {
                    applyLocked(s);
                }
            } finally {
                reloading = false;
            }
        }
        fire(null);
    }

    private boolean applyLocked(JobState s) {
        JobState known = waiting.get(s.id());
        Held knownHeld = held.get(s.id());
        long knownVersion = known != null
                ? known.version()
                : knownHeld != null ? knownHeld.job().version() : removedVersions.getOrDefault(s.id(), -1L);
        if (s.version() <= knownVersion) {
            return false;
        }
        if (known != null) {
            removeWaiting(known);
        }
        if (knownHeld != null) {
            removeHeld(knownHeld);
        }
        if (s.waiting()) {
            if (known == null && knownHeld == null && knownVersion < 0 && !reloading && fairShare) {
                arrived(s);
            }
            addWaiting(s);
        } else if (s.held()) {
            boolean sameAssignment = knownHeld != null
                    && knownHeld.job().attempt() == s.attempt()
                    && Objects.equals(knownHeld.job().assignedWorker(), s.assignedWorker());
            long now = nanoClock.getAsLong();
            long seen = sameAssignment ? knownHeld.seenNanos() : now;
            long runningSince = s.status() != JobStatus.RUNNING
                    ? 0
                    : sameAssignment && knownHeld.runningSinceNanos() != 0 ? knownHeld.runningSinceNanos() : now;
            addHeld(new Held(s, seen, runningSince));
        } else {
            removedVersions.put(s.id(), s.version());
        }
        changes++;
        return true;
    }

    /** A job submitted now (first seen, waiting): counts towards its key's submission rate. */
    private void arrived(JobState s) {
        long now = nanoClock.getAsLong();
        arrivals.computeIfAbsent(s.pool(), p -> new HashMap<>())
                .merge(s.owner(), new Arrivals(s.cost(), now, now, s.tag() + s.cost()), (a, b) -> a.plus(s, now));
    }

    private void addWaiting(JobState s) {
        waiting.put(s.id(), s);
        removedVersions.remove(s.id());
        Pool pool = pools.computeIfAbsent(s.pool(), p -> new Pool());
        pool.ranked.add(s);
        GroupKey key = GroupKey.of(s);
        RankedSet<JobState> group = pool.groups.computeIfAbsent(key, g -> new RankedSet<>(order));
        pool.groupsOfOwner.computeIfAbsent(s.owner(), o -> new HashSet<>()).add(key);
        JobState head = group.size() == 0 ? null : group.first();
        group.add(s);
        if (head == null || order.compare(s, head) < 0) {
            if (head != null) {
                pool.heads.remove(head);
            }
            pool.heads.add(s);
        }
        pool.perCheckpoint.merge(checkpointKey(s.checkpoint()), 1, Integer::sum);
        if (lanes && s.checkpoint() != null) {
            pool.byCheckpoint
                    .computeIfAbsent(canonicalKey(s.checkpoint()), c -> new RankedSet<>(order))
                    .add(s);
        }
        pool.backlogs.merge(canonicalKey(s.checkpoint()), new Backlog(1, s.cost()), Backlog::plus);
        pool.waitingCost += s.cost();
    }

    private void removeWaiting(JobState s) {
        waiting.remove(s.id());
        Pool pool = pools.get(s.pool());
        if (pool == null) {
            return;
        }
        pool.ranked.remove(s);
        GroupKey key = GroupKey.of(s);
        RankedSet<JobState> group = pool.groups.get(key);
        if (group != null) {
            boolean wasHead = group.size() > 0 && group.first().id().equals(s.id());
            group.remove(s);
            if (wasHead) {
                pool.heads.remove(s);
                if (group.size() > 0) {
                    pool.heads.add(group.first());
                }
            }
            if (group.size() == 0) {
                pool.groups.remove(key);
                Set<GroupKey> ofOwner = pool.groupsOfOwner.get(s.owner());
                if (ofOwner != null && ofOwner.remove(key) && ofOwner.isEmpty()) {
                    pool.groupsOfOwner.remove(s.owner());
                }
            }
        }
        pool.perCheckpoint.computeIfPresent(checkpointKey(s.checkpoint()), (k, n) -> n <= 1 ? null : n - 1);
        if (lanes && s.checkpoint() != null) {
            String lane = canonicalKey(s.checkpoint());
            RankedSet<JobState> same = pool.byCheckpoint.get(lane);
            if (same != null) {
                same.remove(s);
                if (same.size() == 0) {
                    pool.byCheckpoint.remove(lane);
                }
            }
        }
        pool.backlogs.computeIfPresent(canonicalKey(s.checkpoint()), (k, b) -> b.minus(s.cost()));
        pool.waitingCost = pool.ranked.size() == 0 ? 0 : Math.max(0, pool.waitingCost - s.cost());
        dropIfEmpty(s.pool(), pool);
    }

    private void addHeld(Held h) {
        JobState s = h.job();
        held.put(s.id(), h);
        removedVersions.remove(s.id());
        byWorker.computeIfAbsent(s.assignedWorker(), w -> new HashSet<>()).add(s.id());
        heldByOwner.merge(s.owner(), 1, Integer::sum);
        Pool pool = pools.computeIfAbsent(s.pool(), p -> new Pool());
        if (h.running()) {
            pool.running++;
        } else {
            pool.assignedNotStarted++;
        }
    }

    private void removeHeld(Held h) {
        JobState s = h.job();
        held.remove(s.id());
        Set<UUID> ofWorker = byWorker.get(s.assignedWorker());
        if (ofWorker != null) {
            ofWorker.remove(s.id());
            if (ofWorker.isEmpty()) {
                byWorker.remove(s.assignedWorker());
            }
        }
        heldByOwner.computeIfPresent(s.owner(), (k, n) -> n <= 1 ? null : n - 1);
        Pool pool = pools.get(s.pool());
        if (pool != null) {
            if (h.running()) {
                pool.running--;
            } else {
                pool.assignedNotStarted--;
            }
            dropIfEmpty(s.pool(), pool);
        }
    }

    private void dropIfEmpty(String name, Pool pool) {
        if (pool.ranked.size() == 0 && pool.running == 0 && pool.assignedNotStarted == 0) {
            pools.remove(name);
        }
    }

    private static String checkpointKey(String checkpoint) {
        return checkpoint == null ? "" : checkpoint;
    }

    private static String canonicalKey(String checkpoint) {
        String canonical = WorkerStatus.ForgeOffer.canonical(checkpoint);
        return canonical == null ? "" : canonical;
    }

    private void fire(String pool) {
        for (Consumer<String> listener : listeners) {
            listener.accept(pool);
        }
    }

    // ---------------------------------------------------------------------------------------------- reads

    /**
     * Where a queued job stands: its position (1 = starts next), how many jobs start before it and how many of
     * those are its owner's own. Empty when the job is not queued (unknown, running or finished).
     *
     * @param position    1 + the jobs that start before it
     * @param ownAhead    of those, the owner's own jobs
     * @param assigned    whether it is already assigned to a worker (it starts when that worker finishes its job)
     * @param inflows     under fair share, the jobs other keys may still submit that will be tagged before it (a
     *                    job of a key that uses more than its share is served after the jobs that keys within their
     *                    share submit meanwhile), so the jobs that will start before it are more than those waiting
     *                    before it now: each key as fast as it submitted lately, up to the job's tag
     *                    ({@link #etaPosition}; weights taken as 1). Position-based ETAs were 60 % off in issue 17's
     *                    mixed-fleet benchmark, all too early; counting every waiting key up to the tag, 66 %, too
     *                    late for the keys over their share
     * @param laneAhead   when the scheduler places by checkpoint and jobs of other checkpoints wait before this one:
     *                    the waiting jobs of its own checkpoint before it (the GPUs that hold the checkpoint take
     *                    those first, whatever else waits); null otherwise
     * @param before      the waiting jobs before it, in the order, when there are at most {@link #PLANNED_BEFORE}
     *                    (its ETA then follows them over the GPUs one by one, {@link Lanes#plannedStart}); null
     *                    when there are more
     */
    public record Standing(
            int position,
            int ownAhead,
            boolean assigned,
            List<Inflow> inflows,
            Integer laneAhead,
            List<JobState> before) {

        public Standing {
            inflows = List.copyOf(inflows);
            before = before == null ? null : List.copyOf(before);
        }

        public Standing(int position, int ownAhead, boolean assigned, List<Inflow> inflows) {
            this(position, ownAhead, assigned, inflows, null, null);
        }

        public Standing(int position, int ownAhead, boolean assigned) {
            this(position, ownAhead, assigned, List.of());
        }

        /**
         * The position the job's ETA counts: its position plus the jobs of other keys that will be submitted and
         * tagged before it while it waits, {@code p = position + sum(min(inflow.jobs, inflow.jobsPerSecond x p x
         * secondsPerPosition))}, the least such {@code p}. When the keys submit faster than the pool serves, each
         * counts at its most.
         *
         * @param secondsPerPosition seconds one position takes (mean job time / available workers)
         */
        public double etaPosition(double secondsPerPosition) {
            if (inflows.isEmpty() || !(secondsPerPosition > 0)) {
                return position;
            }
            double most = position;
            double rate = 0;
            for (Inflow in : inflows) {
                most += in.jobs();
                rate += in.jobsPerSecond() * secondsPerPosition;
            }
            if (rate >= 1) {
                return most; // they submit at least as fast as the pool serves: all of it comes before the job
            }
            double p = position;
            for (int i = 0; i < 200; i++) { // increasing to the least fixed point; piecewise linear, slope < 1
                double next = position;
                for (Inflow in : inflows) {
                    next += Math.min(in.jobs(), in.jobsPerSecond() * p * secondsPerPosition);
                }
                if (next - p < 1e-6) {
                    return next;
                }
                p = next;
            }
            return p;
        }

        /** Jobs that start before this one. */
        public int ahead() {
            return position - 1;
        }
    }

    /**
     * Jobs of another key that may still be tagged before a job, as its ETA counts them.
     *
     * @param jobs          at most this many (jobs of the pool's mean waiting cost): up to the job's tag from where
     *                      the key's tags stand now
     * @param jobsPerSecond as fast as the key submitted lately
     */
    public record Inflow(double jobs, double jobsPerSecond) {}

    /** The standing of a queued job, or null when it is not queued here. */
    public synchronized Standing standing(UUID jobId) {
        JobState s = waiting.get(jobId);
        if (s != null) {
            return standingOf(s);
        }
        Held h = held.get(jobId);
        if (h != null && !h.running()) {
            return new Standing(1, 0, true);
        }
        return null;
    }

    /**
     * The standing a job with this state would have: for a job just submitted, whose notification may not have
     * arrived yet.
     */
    public synchronized Standing standingOf(JobState s) {
        Pool pool = pools.get(s.pool());
        if (pool == null) {
            return new Standing(1, 0, false, List.of(), null, List.of());
        }
        int rank = pool.ranked.rank(s);
        int own = 0;
        for (GroupKey key : pool.groupsOfOwner.getOrDefault(s.owner(), Set.of())) {
            own += pool.groups.get(key).rank(s); // order statistics: a key's 10,000th job walks over no 9,999
        }
        int position = 1 + pool.assignedNotStarted + rank;
        Integer laneAhead = null;
        if (lanes && s.checkpoint() != null) {
            RankedSet<JobState> same = pool.byCheckpoint.get(canonicalKey(s.checkpoint()));
            int sameAhead = same == null ? 0 : same.rank(s);
            if (sameAhead < rank) {
                laneAhead = sameAhead;
            }
        }
        return new Standing(
                position, own, false, inflows(pool, s), laneAhead, rank <= PLANNED_BEFORE ? before(pool, rank) : null);
    }

    /**
     * A waiting job with at most this many waiting jobs before it carries them in its standing: near the head of the
     * order, the GPUs that free up next decide when it starts, more than a rate does.
     */
    public static final int PLANNED_BEFORE = 64;

    /** The first {@code count} waiting jobs of {@code pool} in the order. */
    private static List<JobState> before(Pool pool, int count) {
        List<JobState> out = new ArrayList<>(count);
        for (Iterator<JobState> it = pool.ranked.iterator(); out.size() < count && it.hasNext(); ) {
            out.add(it.next());
        }
        return out;
    }

    /**
     * Under fair share, the jobs other keys may still submit that will be tagged before {@code s}: each key that
     * submitted to the pool lately, from where its tags end (at least the head's tag: a key that comes back is tagged
     * at the pool's virtual time) up to {@code s}'s tag, as fast as it submitted. Empty without fair share, for a job
     * at the head's tag or for one of a lower class than the head (a higher class goes first whatever the tags).
     * Counting every key with jobs waiting up to the tag, however little it submits, made the ETAs of a key over its
     * share about 20 s too late in issue 17's mixed-fleet benchmark (the light key never submitted that much).
     */
    private List<Inflow> inflows(Pool pool, JobState s) {
        Map<UUID, Arrivals> rates = arrivals.get(s.pool());
        if (!fairShare || rates == null || pool.ranked.size() == 0 || !(pool.waitingCost > 0)) {
            return List.of();
        }
        JobState head = pool.ranked.first();
        if (head.priority() != s.priority() || !(s.tag() > head.tag())) {
            return List.of();
        }
        double meanCost = pool.waitingCost / pool.ranked.size();
        long now = nanoClock.getAsLong();
        List<Inflow> out = new ArrayList<>();
        double totalJobs = 0;
        double totalRate = 0;
        for (Iterator<Map.Entry<UUID, Arrivals>> it = rates.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<UUID, Arrivals> e = it.next();
            double perSecond = e.getValue().costPerSecond(now) / meanCost;
            if (perSecond < 1e-3) {
                it.remove(); // quiet for minutes: forgotten
                continue;
            }
            if (e.getKey().equals(s.owner())) {
                continue; // its own later jobs are tagged after it
            }
            double jobs = (s.tag() - Math.max(head.tag(), e.getValue().tagEnd())) / meanCost;
            if (jobs > 0) {
                out.add(new Inflow(jobs, perSecond));
                totalJobs += jobs;
                totalRate += perSecond;
            }
        }
        // bounded work per standing (positions are pushed to many clients per hand-out): many keys count as one
        return out.size() <= INFLOW_KEYS ? out : List.of(new Inflow(totalJobs, totalRate));
    }

    /** Waiting and held counts of one pool. */
    public record PoolCounts(int waiting, int assignedNotStarted, int running, Map<String, Integer> perCheckpoint) {

        /** QUEUED jobs (waiting + assigned but not started). */
        public int queued() {
            return waiting + assignedNotStarted;
        }
    }

    /** Counts per pool (pools with no queued or running job are left out). */
    public synchronized Map<String, PoolCounts> counts() {
        Map<String, PoolCounts> out = new TreeMap<>();
        pools.forEach((name, p) -> out.put(
                name, new PoolCounts(p.ranked.size(), p.assignedNotStarted, p.running, Map.copyOf(p.perCheckpoint))));
        return out;
    }

    /**
     * The jobs of one checkpoint waiting for a hand-out in one pool, and their summed cost (standard images).
     *
     * @param jobs how many
     * @param cost their summed {@link JobState#cost()}
     */
    public record Backlog(int jobs, double cost) {

        public static final Backlog NONE = new Backlog(0, 0);

        Backlog plus(Backlog other) {
            return new Backlog(jobs + other.jobs, cost + other.cost);
        }

        /** Without one job of {@code jobCost}; null (dropped) when it was the last. */
        Backlog minus(double jobCost) {
            return jobs <= 1 ? null : new Backlog(jobs - 1, Math.max(0, cost - jobCost));
        }
    }

    /**
     * The waiting backlog of {@code checkpoint} (any alias of it; null: jobs without one) in {@code pool}: kept up to
     * date as jobs enter and leave, so asking costs a map look-up whatever the backlog.
     */
    public synchronized Backlog backlog(String pool, String checkpoint) {
        Pool p = pools.get(pool);
        Backlog b = p == null ? null : p.backlogs.get(canonicalKey(checkpoint));
        return b == null ? Backlog.NONE : b;
    }

    /** The worker the job is assigned to (handed out, not finished), or null when it is not. */
    public synchronized String assignedWorker(UUID jobId) {
        Held h = held.get(jobId);
        return h == null ? null : h.job().assignedWorker();
    }

    /** The jobs assigned to {@code worker} (not finished). */
    public synchronized List<Held> heldBy(String worker) {
        Set<UUID> ids = byWorker.get(worker);
        if (ids == null) {
            return List.of();
        }
        List<Held> out = new ArrayList<>(ids.size());
        for (UUID id : ids) {
            out.add(held.get(id));
        }
        return out;
    }

    /** The keys with jobs waiting or holding a slot in {@code pool}, with how many slots each holds there. */
    public synchronized Map<UUID, Integer> ownersIn(String pool) {
        Map<UUID, Integer> out = new HashMap<>();
        Pool p = pools.get(pool);
        if (p != null) {
            p.groupsOfOwner.keySet().forEach(o -> out.put(o, 0));
        }
        for (Held h : held.values()) {
            if (h.job().pool().equals(pool)) {
                out.merge(h.job().owner(), 1, Integer::sum);
            }
        }
        return out;
    }

    /** How many of {@code owner}'s jobs wait in {@code pool} (not assigned yet). */
    public synchronized int waitingOf(UUID owner, String pool) {
        Pool p = pools.get(pool);
        if (p == null) {
            return 0;
        }
        int n = 0;
        for (GroupKey key : p.groupsOfOwner.getOrDefault(owner, Set.of())) {
            n += p.groups.get(key).size();
        }
        return n;
    }

    /**
     * The jobs of one key, all pools.
     *
     * @param queued  QUEUED jobs: waiting for a hand-out, or assigned and not started
     * @param running RUNNING jobs
     */
    public record OwnerJobs(int queued, int running) {}

    /** Queued and running jobs per key, all pools (keys with neither are left out); for the per-key meters. */
    public synchronized Map<UUID, OwnerJobs> jobsByOwner() {
        Map<UUID, int[]> counts = new HashMap<>();
        for (Pool p : pools.values()) {
            p.groupsOfOwner.forEach((owner, keys) -> {
                int[] c = counts.computeIfAbsent(owner, o -> new int[2]);
                for (GroupKey key : keys) {
                    c[0] += p.groups.get(key).size();
                }
            });
        }
        for (Held h : held.values()) {
            counts.computeIfAbsent(h.job().owner(), o -> new int[2])[h.running() ? 1 : 0]++;
        }
        Map<UUID, OwnerJobs> out = new HashMap<>();
        counts.forEach((owner, c) -> out.put(owner, new OwnerJobs(c[0], c[1])));
        return out;
    }

    /** The keys with jobs waiting for a hand-out, any pool. */
    public synchronized Set<UUID> waitingOwners() {
        Set<UUID> out = new HashSet<>();
        for (Pool p : pools.values()) {
            out.addAll(p.groupsOfOwner.keySet());
        }
        return out;
    }

    /** The workers that hold at least one job. */
    public synchronized Set<String> workersHolding() {
        return Set.copyOf(byWorker.keySet());
    }

    /** How many GPU slots {@code owner}'s jobs hold (assigned or running). */
    public synchronized int heldByOwner(UUID owner) {
        return heldByOwner.getOrDefault(owner, 0);
    }

    /** Whether {@code jobId} is waiting for a hand-out. */
    public synchronized boolean isWaiting(UUID jobId) {
        return waiting.containsKey(jobId);
    }

    /** The waiting state of a job, or null. */
    public synchronized JobState waitingState(UUID jobId) {
        return waiting.get(jobId);
    }

    /**
     * The first waiting job of {@code pool}, in the scheduler's order, that {@code eligible} accepts, looking only at
     * the head of each (owner, checkpoint, sampler) group: the best candidate of a group is its head, so the cost
     * does not grow with the backlog, only with the number of groups skipped. Null when none qualifies.
     */
    public JobState pick(String pool, Predicate<JobState> eligible) {
        return pick(pool, eligible, Set.of());
    }

    /** As {@link #pick(String, Predicate)}, as if the jobs in {@code decided} no longer waited (see below). */
    public synchronized JobState pick(String pool, Predicate<JobState> eligible, Set<UUID> decided) {
        Pool p = pools.get(pool);
        if (p == null) {
            return null;
        }
        JobState[] found = new JobState[1];
        forEachHead(p, decided, head -> {
            if (eligible.test(head)) {
                found[0] = head;
                return false;
            }
            return true;
        });
        return found[0];
    }

    /**
     * The heads of the groups of {@code pool} in the scheduler's order, at most {@code limit} of them, that
     * {@code eligible} accepts (placement rules look beyond the first candidate).
     */
    public List<JobState> candidates(String pool, Predicate<JobState> eligible, int limit) {
        return candidates(pool, eligible, limit, Set.of());
    }

    /**
     * As {@link #candidates(String, Predicate, int)}, as if the jobs in {@code decided} no longer waited: a group
     * whose first jobs were decided offers its next one in their place. The scheduler decides several hand-outs
     * before it commits them together; until then this index still holds them as waiting.
     */
    public synchronized List<JobState> candidates(
            String pool, Predicate<JobState> eligible, int limit, Set<UUID> decided) {
        Pool p = pools.get(pool);
        if (p == null) {
            return List.of();
        }
        List<JobState> out = new ArrayList<>();
        forEachHead(p, decided, head -> {
            if (eligible.test(head)) {
                out.add(head);
            }
            return out.size() < limit;
        });
        return out;
    }

    /**
     * Visits the heads of {@code p}'s groups in order, skipping {@code decided} jobs (a group whose head was decided
     * takes its first undecided job as head), until {@code visitor} returns false. Costs the heads visited plus, per
     * group with a decided head, the decided jobs at its front.
     */
    private void forEachHead(Pool p, Set<UUID> decided, Predicate<JobState> visitor) {
        Iterator<JobState> heads = p.heads.iterator();
        PriorityQueue<JobState> replacements = decided.isEmpty() ? null : new PriorityQueue<>(order);
        JobState nextHead = heads.hasNext() ? heads.next() : null;
        while (nextHead != null || (replacements != null && !replacements.isEmpty())) {
            JobState next;
            if (nextHead != null
                    && (replacements == null
                            || replacements.isEmpty()
                            || order.compare(nextHead, replacements.peek()) < 0)) {
                next = nextHead;
                nextHead = heads.hasNext() ? heads.next() : null;
                if (replacements != null && decided.contains(next.id())) {
                    for (JobState s : p.groups.get(GroupKey.of(next))) {
                        if (!decided.contains(s.id())) {
                            replacements.add(s);
                            break;
                        }
                    }
                    continue;
                }
            } else {
                next = replacements.poll();
            }
            if (!visitor.test(next)) {
                return;
            }
        }
    }

    /** Every waiting job, in no particular order (tests and the scale simulation). */
    public synchronized int waitingCount() {
        return waiting.size();
    }

    /** How many changes were applied since start (changes the positions may depend on). */
    public synchronized long changes() {
        return changes;
    }
}
