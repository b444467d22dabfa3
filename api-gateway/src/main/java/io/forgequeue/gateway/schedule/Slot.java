package io.forgequeue.gateway.schedule;

import io.forgequeue.gateway.fleet.FleetWorker;
import io.forgequeue.gateway.queue.JobState;
import io.forgequeue.model.WorkerStatus;

/**
 * An available worker during one scheduling round: how many jobs it may still be given, the checkpoint it will have
 * loaded when it starts the next one (that of the last job assigned to it, else the one it reported), and how long
 * until it could start a job given now (estimated from the costs of what it holds). Updated as the round assigns.
 * Not thread-safe (one round, one thread).
 */
final class Slot {

    private final FleetWorker worker;
    /** Load time of a checkpoint this worker has not measured (the fleet's measurement, else the default). */
    private final java.util.function.ToDoubleFunction<String> unmeasuredLoadSeconds;

    private final double secondsPerUnit;
    private int free;
    private String loadedNext;
    private double busySeconds;

    /**
     * @param secondsPerUnit the pool's measured GPU seconds per standard image (job costs are in standard images)
     */
    Slot(
            FleetWorker worker,
            int free,
            String loadedNext,
            double busySeconds,
            java.util.function.ToDoubleFunction<String> unmeasuredLoadSeconds,
            double secondsPerUnit) {
        this.worker = worker;
        this.secondsPerUnit = secondsPerUnit;
        this.free = free;
        this.loadedNext = loadedNext;
        this.busySeconds = busySeconds;
        this.unmeasuredLoadSeconds = unmeasuredLoadSeconds;
    }

    FleetWorker worker() {
        return worker;
    }

    int free() {
        return free;
    }

    String loadedNext() {
        return loadedNext;
    }

    double busySeconds() {
        return busySeconds;
    }

    /** It may be given nothing more in this round. */
    void fullThisRound() {
        free = 0;
    }

    /** Whether running {@code job} next here means loading another checkpoint first. */
    boolean needsSwitch(JobState job) {
        return job.checkpoint() != null
                && (loadedNext == null
                        || !WorkerStatus.ForgeOffer.canonical(job.checkpoint())
                                .equals(WorkerStatus.ForgeOffer.canonical(loadedNext)));
    }

    /** Seconds this worker takes to load the job's checkpoint (0 when no switch is needed). */
    double switchSeconds(JobState job) {
        if (!needsSwitch(job)) {
            return 0;
        }
        Double measured = worker.loadSeconds(job.checkpoint());
        return measured == null ? unmeasuredLoadSeconds.applyAsDouble(job.checkpoint()) : measured;
    }

    /** The job was assigned to this worker in this round. */
    void assigned(JobState job) {
        busySeconds += switchSeconds(job) + job.cost() * secondsPerUnit;
        if (job.checkpoint() != null) {
            loadedNext = job.checkpoint();
        }
        free--;
    }
}
