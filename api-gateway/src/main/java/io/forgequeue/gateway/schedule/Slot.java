package io.forgequeue.gateway.schedule;

import io.forgequeue.gateway.fleet.FleetWorker;
import io.forgequeue.gateway.queue.JobState;
import io.forgequeue.model.WorkerStatus;
import java.util.function.ToDoubleFunction;

/**
 * An available worker during one scheduling round: how many jobs it may still be given, the checkpoint it will have
 * loaded when it starts the next one (that of the last job assigned to it, else the one it reported), and how long
 * until it could start a job given now (estimated from the costs of what it holds). Beyond its slots it may take
 * short-job extras ({@link SchedulerProperties.ShortJobs}) while what it holds is expected to end within the horizon.
 * Updated as the round assigns. Not thread-safe (one round, one thread).
 */
final class Slot {

    private final FleetWorker worker;
    /** Load time of a checkpoint this worker has not measured (the fleet's measurement, else the default). */
    private final ToDoubleFunction<String> unmeasuredLoadSeconds;

    private final double secondsPerUnit;
    private int free;
    private int extras;
    private final double horizonSeconds;
    private String loadedNext;
    private double busySeconds;

    /**
     * @param free           slots left of the running job plus the lookahead (negative when extras are held)
     * @param extras         short-job extras it may still be given
     * @param horizonSeconds an extra is given only while the held jobs are expected to end within this
     * @param secondsPerUnit the pool's measured GPU seconds per standard image (job costs are in standard images)
     */
    Slot(
            FleetWorker worker,
            int free,
            int extras,
            double horizonSeconds,
            String loadedNext,
            double busySeconds,
            ToDoubleFunction<String> unmeasuredLoadSeconds,
            double secondsPerUnit) {
        this.worker = worker;
        this.secondsPerUnit = secondsPerUnit;
        this.free = free;
        this.extras = extras;
        this.horizonSeconds = horizonSeconds;
        this.loadedNext = loadedNext;
        this.busySeconds = busySeconds;
        this.unmeasuredLoadSeconds = unmeasuredLoadSeconds;
    }

    FleetWorker worker() {
        return worker;
    }

    /** Jobs it may be given now: its free slots, else one short-job extra while its held jobs end soon. */
    int free() {
        if (free > 0) {
            return free;
        }
        return extras > 0 && busySeconds < horizonSeconds ? 1 : 0;
    }

    String loadedNext() {
        return loadedNext;
    }

    double busySeconds() {
        return busySeconds;
    }

    /**
     * Whether {@code job} may be given now: into a free slot always; as a short-job extra only when the held jobs and
     * it (a checkpoint switch included) are expected to end within the horizon. A job that may not stops the extras
     * for this round.
     */
    boolean takes(JobState job) {
        if (free > 0) {
            return true;
        }
        if (busySeconds + switchSeconds(job) + job.cost() * secondsPerUnit <= horizonSeconds) {
            return true;
        }
        extras = 0;
        return false;
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
        if (free > 0) {
            free--;
        } else {
            extras--;
        }
    }
}
