package io.forgequeue.gateway.fleet;

import io.forgequeue.model.WorkerState;
import io.forgequeue.model.WorkerStatus;
import java.util.Iterator;
import java.util.List;
import java.util.OptionalDouble;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * One worker as the gateway last heard of it. Immutable; the directory replaces it with every status.
 *
 * @param id              the worker's id
 * @param instance        its process (a restart is a new instance)
 * @param pool            the pool it serves
 * @param state           what it said it does
 * @param running         the assignment it said it works on, or null
 * @param forge           what its Forge offers, or null when unknown
 * @param instanceSeenNanos when this gateway first heard of this instance ({@link System#nanoTime()})
 * @param replacedInstance whether this gateway had heard an earlier instance of this worker before this one (a
 *                        restart it witnessed; false for the first instance it hears, e.g. right after it started)
 * @param lastSeenNanos   when this gateway last heard of it
 * @param idleSinceNanos  when the current run of idle READY statuses began, or 0 when it holds a job
 * @param idleReports     how many idle READY statuses in a row it sent
 * @param refusedBecause  why the scheduler gives it nothing although it is READY (it shares its Forge with a worker
 *                        that was there first), or null
 * @param seq             the sequence number of its last status (grows with every status of the instance)
 * @param intervalNanos   how often it said it announces itself
 * @param movedOnFrom     the last few assignments it reported running and then no longer: done on its side (their
 *                        outcome may not be merged yet), newest last
 * @param brokerUser      the broker user it announces itself with (the RabbitMQ-validated {@code user_id} of its
 *                        statuses), or null when its statuses carry none; its events and previews must carry the same
 */
public record FleetWorker(
        String id,
        UUID instance,
        String pool,
        WorkerState state,
        WorkerStatus.Assignment running,
        WorkerStatus.ForgeOffer forge,
        long instanceSeenNanos,
        boolean replacedInstance,
        long lastSeenNanos,
        long idleSinceNanos,
        int idleReports,
        String refusedBecause,
        long seq,
        long intervalNanos,
        List<WorkerStatus.Assignment> movedOnFrom,
        String brokerUser) {

    /** How many moved-on assignments are remembered. */
    static final int MOVED_ON = 4;

    public FleetWorker {
        movedOnFrom = movedOnFrom == null ? List.of() : List.copyOf(movedOnFrom);
    }

    /** Whether the worker reported running this attempt of the job and then moved on from it. */
    public boolean movedOn(UUID jobId, int attempt) {
        for (WorkerStatus.Assignment a : movedOnFrom) {
            if (a.jobId().equals(jobId) && a.attempt() == attempt) {
                return true;
            }
        }
        return false;
    }

    /** Whether it announced itself within {@code timeoutNanos} before {@code nowNanos}. */
    public boolean alive(long nowNanos, long timeoutNanos) {
        return state != WorkerState.GONE && nowNanos - lastSeenNanos <= timeoutNanos;
    }

    /** Whether the scheduler may hand it a job (alive, READY, not refused). */
    public boolean available(long nowNanos, long timeoutNanos) {
        return alive(nowNanos, timeoutNanos) && state.takesJobs() && refusedBecause == null;
    }

    /** This worker with another refusal reason. */
    FleetWorker withRefusal(String reason) {
        return new FleetWorker(
                id,
                instance,
                pool,
                state,
                running,
                forge,
                instanceSeenNanos,
                replacedInstance,
                lastSeenNanos,
                idleSinceNanos,
                idleReports,
                reason,
                seq,
                intervalNanos,
                movedOnFrom,
                brokerUser);
    }

    /**
     * Whether its Forge offers {@code checkpoint} under any of its names (null = a job without a checkpoint runs
     * anywhere; a worker that could not list its checkpoints offers all).
     */
    public boolean offersCheckpoint(String checkpoint) {
        if (checkpoint == null || forge == null || forge.checkpoints().isEmpty()) {
            return true;
        }
        String wanted = WorkerStatus.ForgeOffer.canonical(checkpoint);
        for (String offered : forge.checkpoints()) {
            if (wanted.equals(WorkerStatus.ForgeOffer.canonical(offered))) {
                return true;
            }
        }
        return false;
    }

    /** Whether its Forge has {@code checkpoint} loaded (by any of its names). */
    public boolean hasLoaded(String checkpoint) {
        String loaded = loadedCheckpoint();
        return checkpoint != null
                && loaded != null
                && WorkerStatus.ForgeOffer.canonical(checkpoint).equals(WorkerStatus.ForgeOffer.canonical(loaded));
    }

    /** Seconds its Forge took to load {@code checkpoint} (its own measurement), or null when never measured. */
    public Double loadSeconds(String checkpoint) {
        if (forge == null || checkpoint == null) {
            return null;
        }
        String wanted = WorkerStatus.ForgeOffer.canonical(checkpoint);
        for (var e : forge.loadSeconds().entrySet()) {
            if (wanted.equals(WorkerStatus.ForgeOffer.canonical(e.getKey()))) {
                return e.getValue();
            }
        }
        return null;
    }

    /**
     * The mean of the load times of {@code checkpoint} that {@code workers} measured, empty when none did: what a
     * worker that never loaded it is expected to take (the scheduler's switch decisions, the ETAs' load time).
     */
    public static OptionalDouble meanLoadSeconds(Stream<FleetWorker> workers, String checkpoint) {
        double sum = 0;
        int count = 0;
        for (Iterator<FleetWorker> it = workers.iterator(); it.hasNext(); ) {
            Double seconds = it.next().loadSeconds(checkpoint);
            if (seconds != null) {
                sum += seconds;
                count++;
            }
        }
        return count == 0 ? OptionalDouble.empty() : OptionalDouble.of(sum / count);
    }

    /** Whether its Forge offers {@code sampler} (null = the server's default; unknown lists offer all). */
    public boolean offersSampler(String sampler) {
        return sampler == null
                || forge == null
                || forge.samplers().isEmpty()
                || forge.samplers().contains(sampler);
    }

    /** The checkpoints its Forge offers (empty when unknown). */
    public List<String> checkpoints() {
        return forge == null ? List.of() : forge.checkpoints();
    }

    /** The checkpoint its Forge has loaded, or null when unknown. */
    public String loadedCheckpoint() {
        return forge == null ? null : forge.loadedCheckpoint();
    }

    /** Its Forge's identity, or null when unknown. */
    public String forgeIdentity() {
        return forge == null ? null : forge.identity();
    }
}
