package io.forgequeue.gateway.fleet;

import io.forgequeue.model.Topology;
import io.forgequeue.model.WorkerState;
import io.forgequeue.model.WorkerStatus;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Component;

/**
 * The workers that announced themselves ({@link WorkerStatus}, on every gateway's relay queue), with when this
 * gateway last heard of each. Every gateway keeps one, so the queue overview, the ETA and (on the leader) the
 * scheduler see the same fleet, and a new leader knows it at once.
 *
 * <p>A worker is <em>alive</em> while it announced itself within {@link FleetProperties#presenceTimeout()} and
 * did not say goodbye; <em>available</em> when alive, READY and not refused. Two live workers that announce the
 * same Forge share one GPU server (its progress, previews and interrupt are global, forge-api.md §5-6): the one
 * heard of first keeps it, the other is refused until the first is gone. Thread-safe.
 */
@Component
public class WorkerDirectory {

    private static final Logger log = LoggerFactory.getLogger(WorkerDirectory.class);

    private final Map<String, FleetWorker> workers = new ConcurrentHashMap<>();
    private final Map<String, Long> lastSeq = new ConcurrentHashMap<>();
    private volatile java.util.Set<String> lastAvailable = java.util.Set.of();
    private java.util.Set<String> lastAlive = java.util.Set.of();
    private final List<Runnable> listeners = new CopyOnWriteArrayList<>();
    private final long timeoutNanos;
    private final long forgetNanos;
    private final LongSupplier clock;
    /** Grows when a worker joins, restarts, leaves, falls silent, comes back or changes state ({@link #standings}). */
    private final java.util.concurrent.atomic.AtomicLong standings = new java.util.concurrent.atomic.AtomicLong();

    @org.springframework.beans.factory.annotation.Autowired
    public WorkerDirectory(FleetProperties properties) {
        this(properties, System::nanoTime);
    }

    public WorkerDirectory(FleetProperties properties, LongSupplier nanoClock) {
        this.timeoutNanos = properties.presenceTimeout().toNanos();
        this.forgetNanos = properties.forgetAfter().toNanos();
        this.clock = nanoClock;
    }

    /** Called after every change (a status that changed what the scheduler may do, a worker refused or freed). */
    public void onChange(Runnable listener) {
        listeners.add(listener);
    }

    /** Takes a worker's announcement that carries no broker user (see {@link #accept(WorkerStatus, String)}). */
    public void accept(WorkerStatus status) {
        accept(status, null);
    }

    /**
     * Takes a worker's announcement; an older status of the same instance than the last one is ignored.
     * {@code brokerUser} is the broker user that published it (its validated {@code user_id}, or null): while a worker
     * id is alive, it belongs to the broker user it was first announced with, and an announcement of that id by
     * another user is refused (false), so a worker credential cannot take over another worker's id, its jobs or its
     * events. Once the worker is gone or lost, another user may announce the id.
     *
     * @return false when the announcement was refused because another broker user holds the worker id
     */
    public boolean accept(WorkerStatus status, String brokerUser) {
        if (!Topology.isValidWorkerId(status.workerId()) || !Topology.isValidPool(status.pool())) {
            log.warn("Worker status with an unusable id or pool ignored");
            return true;
        }
        long now = clock.getAsLong();
        boolean[] refused = {false};
        boolean[] changed = {false};
        boolean[] identityMayMatter = {false};
        String[] oldIdentity = {null};
        workers.compute(status.workerId(), (id, old) -> {
            if (old != null
                    && old.alive(now, timeoutNanos)
                    && !java.util.Objects.equals(old.brokerUser(), brokerUser)) {
                refused[0] = true;
                return old;
            }
            boolean sameInstance = old != null && old.instance().equals(status.instance());
            if (sameInstance && old.state() != WorkerState.GONE && status.seq() <= lastSeq.getOrDefault(id, -1L)) {
                return old;
            }
            lastSeq.put(id, status.seq());
            boolean idle = status.running() == null && status.state() == WorkerState.READY;
            long idleSince = !idle ? 0 : sameInstance && old.idleSinceNanos() != 0 ? old.idleSinceNanos() : now;
            int idleReports = !idle ? 0 : sameInstance ? old.idleReports() + 1 : 1;
            // a status without the offer repeats the last one (workers send it only when it changed, now and then)
            WorkerStatus.ForgeOffer offer = status.forge() == null && sameInstance ? old.forge() : status.forge();
            List<WorkerStatus.Assignment> movedOn =
                    sameInstance ? new ArrayList<>(old.movedOnFrom()) : new ArrayList<>();
            if (sameInstance
                    && old.running() != null
                    && !old.running().equals(status.running())
                    && !movedOn.contains(old.running())) {
                movedOn.add(old.running());
                while (movedOn.size() > FleetWorker.MOVED_ON) {
                    movedOn.remove(0);
                }
            }
            FleetWorker next = new FleetWorker(
                    id,
                    status.instance(),
                    status.pool(),
                    status.state(),
                    status.running(),
                    offer,
                    sameInstance ? old.instanceSeenNanos() : now,
                    sameInstance ? old.replacedInstance() : old != null,
                    now,
                    idleSince,
                    idleReports,
                    sameInstance ? old.refusedBecause() : null,
                    status.seq(),
                    java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(Math.max(100, status.intervalMillis())),
                    movedOn,
                    brokerUser);
            changed[0] = old == null
                    || !sameInstance
                    || old.state() != next.state()
                    || !java.util.Objects.equals(old.running(), next.running())
                    || !java.util.Objects.equals(old.forge(), next.forge())
                    || !old.alive(now, timeoutNanos)
                    || idleReports == 2;
            if (old == null || !sameInstance || old.state() != next.state() || !old.alive(now, timeoutNanos)) {
                standings.incrementAndGet();
            }
            oldIdentity[0] = old == null ? null : old.forgeIdentity();
            identityMayMatter[0] = old == null
                    || !sameInstance
                    || !old.alive(now, timeoutNanos)
                    || !java.util.Objects.equals(old.forgeIdentity(), next.forgeIdentity())
                    || (old.state() != next.state() && next.state() == WorkerState.GONE);
            if (old == null || !sameInstance) {
                log.info("Worker {} joined pool {} ({})", id, status.pool(), status.state());
            } else if (old.state() != status.state()) {
                log.info("Worker {} is {} (was {})", id, status.state(), old.state());
            }
            return next;
        });
        if (refused[0]) {
            log.warn(
                    "Worker {} announced by broker user {}, but it belongs to another broker user while it is alive: "
                            + "refused",
                    status.workerId(),
                    brokerUser);
            return false;
        }
        // who holds which Forge changes only when a worker comes, goes or names another Forge: not on every status,
        // and only among the workers that name the Forge(s) concerned (re-deciding the whole fleet for every worker
        // that joins or comes back would make a large fleet's announcements pile up)
        boolean refusals = false;
        if (identityMayMatter[0]) {
            java.util.Set<String> identities = new java.util.HashSet<>();
            identities.add(oldIdentity[0]);
            FleetWorker now2 = workers.get(status.workerId());
            identities.add(now2 == null ? null : now2.forgeIdentity());
            identities.remove(null);
            refusals = refreshRefusals(identities, status.workerId());
        }
        if (changed[0] || refusals) {
            fire();
        }
        return true;
    }

    /** The broker user the worker announced itself with, while it is alive; empty otherwise or when it gave none. */
    public Optional<String> brokerUserOf(String workerId) {
        FleetWorker w = workers.get(workerId);
        return w == null || !w.alive(clock.getAsLong(), timeoutNanos)
                ? Optional.empty()
                : Optional.ofNullable(w.brokerUser());
    }

    /** Every worker heard of (alive or not), by id. */
    public Collection<FleetWorker> all() {
        return List.copyOf(workers.values());
    }

    public Optional<FleetWorker> get(String workerId) {
        return Optional.ofNullable(workers.get(workerId));
    }

    /** Whether the worker announced itself recently and did not say goodbye. */
    public boolean isAlive(FleetWorker worker) {
        return worker.alive(clock.getAsLong(), timeoutNanos);
    }

    /** Whether the scheduler may hand the worker a job now. */
    public boolean isAvailable(FleetWorker worker) {
        return worker.available(clock.getAsLong(), timeoutNanos);
    }

    /** The workers of {@code pool} the scheduler may hand jobs to now. */
    public List<FleetWorker> available(String pool) {
        long now = clock.getAsLong();
        return workers.values().stream()
                .filter(w -> w.pool().equals(pool) && w.available(now, timeoutNanos))
                .sorted(Comparator.comparing(FleetWorker::id))
                .toList();
    }

    /** Every available worker, any pool. */
    public List<FleetWorker> available() {
        long now = clock.getAsLong();
        return workers.values().stream()
                .filter(w -> w.available(now, timeoutNanos))
                .sorted(Comparator.comparing(FleetWorker::id))
                .toList();
    }

    /** Counts per pool: available, paused or draining (alive but taking nothing), refused. */
    public Map<String, PoolFleet> byPool() {
        long now = clock.getAsLong();
        Map<String, int[]> counts = new java.util.TreeMap<>();
        for (FleetWorker w : workers.values()) {
            if (!w.alive(now, timeoutNanos)) {
                continue;
            }
            int[] c = counts.computeIfAbsent(w.pool(), p -> new int[3]);
            if (w.refusedBecause() != null) {
                c[2]++;
            } else if (w.state().takesJobs()) {
                c[0]++;
            } else {
                c[1]++;
            }
        }
        Map<String, PoolFleet> out = new java.util.TreeMap<>();
        counts.forEach((pool, c) -> out.put(pool, new PoolFleet(c[0], c[1], c[2])));
        return out;
    }

    /**
     * Alive workers per pool and what they offer.
     *
     * @param available workers that take jobs
     * @param paused    alive workers that take none now (Forge unreachable, shutting down)
     * @param refused   workers refused because they share a Forge with another
     */
    public record PoolFleet(int available, int paused, int refused) {}

    /**
     * Every second: drops workers not heard of for {@link FleetProperties#forgetAfter()}, re-evaluates refusals (a
     * worker whose Forge was held by one that is now lost may take over) and tells the listeners when the set of
     * available workers changed (a worker fell silent).
     */
    @org.springframework.scheduling.annotation.Scheduled(fixedDelay = 1000)
    public void expire() {
        long now = clock.getAsLong();
        boolean removed = workers.values().removeIf(w -> now - w.lastSeenNanos() > forgetNanos);
        java.util.Set<String> available = new java.util.HashSet<>();
        java.util.Set<String> alive = new java.util.HashSet<>();
        for (FleetWorker w : workers.values()) {
            if (w.available(now, timeoutNanos)) {
                available.add(w.id());
            }
            if (w.alive(now, timeoutNanos)) {
                alive.add(w.id());
            }
        }
        boolean availabilityChanged = !available.equals(lastAvailable);
        lastAvailable = available;
        // a paused worker that falls silent stays unavailable, but it is lost now: its jobs go elsewhere
        if (removed || availabilityChanged || !alive.equals(lastAlive)) {
            standings.incrementAndGet();
        }
        lastAlive = alive;
        if (refreshRefusals() || removed || availabilityChanged) {
            fire();
        }
    }

    /** Re-decides which workers share a Forge; true when a refusal started or ended. */
    private boolean refreshRefusals() {
        return refreshRefusals(null, null);
    }

    /**
     * Re-decides which workers share a Forge, among the workers naming one of {@code identities} and the worker
     * {@code workerId} (all workers when {@code identities} is null); true when a refusal started or ended.
     */
    private synchronized boolean refreshRefusals(java.util.Set<String> identities, String workerId) {
        long now = clock.getAsLong();
        Map<String, FleetWorker> holder = new java.util.HashMap<>();
        List<FleetWorker> sorted = new ArrayList<>();
        for (FleetWorker w : workers.values()) {
            if (identities == null || identities.contains(w.forgeIdentity()) || w.id().equals(workerId)) {
                sorted.add(w);
            }
        }
        sorted.sort(Comparator.comparingLong(FleetWorker::instanceSeenNanos).thenComparing(FleetWorker::id));
        boolean changed = false;
        for (FleetWorker w : sorted) {
            String identity = w.forgeIdentity();
            String reason = null;
            if (identity != null && w.alive(now, timeoutNanos)) {
                FleetWorker first = holder.putIfAbsent(identity, w);
                if (first != null) {
                    reason = "its Forge (" + identity + ") is already driven by worker " + first.id();
                }
            }
            if (!java.util.Objects.equals(reason, w.refusedBecause())) {
                changed = true;
                FleetWorker updated = w.withRefusal(reason);
                workers.replace(w.id(), w, updated);
                if (reason != null) {
                    log.warn(
                            "Worker {} refused: {}; it gets no job while that worker is alive (run one worker per "
                                    + "Forge)",
                            w.id(),
                            reason);
                } else {
                    log.info("Worker {} no longer refused", w.id());
                }
            }
        }
        return changed;
    }

    private void fire() {
        for (Runnable listener : listeners) {
            try {
                listener.run();
            } catch (RuntimeException e) {
                log.warn("Fleet listener failed: {}", e.toString());
            }
        }
    }

    /** The presence timeout in nanoseconds. */
    public long timeoutNanos() {
        return timeoutNanos;
    }

    /**
     * A number that grows whenever a worker joins, restarts, leaves (goodbye, or forgotten), changes state (paused,
     * draining) or falls silent or comes back as {@link #expire} sees it; not when it only reports other jobs. The
     * scheduler checks the fleet's assignments at once when it moved, and otherwise only now and then.
     */
    public long standings() {
        return standings.get();
    }

    /** This directory's clock ({@link System#nanoTime()} in production). */
    public long nanoTime() {
        return clock.getAsLong();
    }
}
