package io.forgequeue.worker.job;

import io.forgequeue.model.JobMessage;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;

/**
 * One attempt at one job on this worker: its identity, its event stream and the requests to stop it, which other
 * threads (cancel listener, shutdown watchdog) set while the listener thread waits for Forge. Thread-safe.
 */
final class JobAttempt {

    private final JobMessage job;
    private final int attempt;
    private final EventStream events;
    private volatile boolean cancelRequested;
    private volatile boolean giveBackRequested;
    private volatile boolean takeBackRequested;
    private volatile boolean interruptSent;
    private final AtomicBoolean interrupting = new AtomicBoolean();

    JobAttempt(JobMessage job, int attempt, EventStream events) {
        this.job = job;
        this.attempt = attempt;
        this.events = events;
    }

    UUID jobId() {
        return job.jobId();
    }

    JobMessage job() {
        return job;
    }

    int attempt() {
        return attempt;
    }

    EventStream events() {
        return events;
    }

    /** The owner cancelled the job: Forge is interrupted and the job ends CANCELLED. */
    void requestCancel() {
        cancelRequested = true;
    }

    /**
     * The scheduler took this attempt back (it told this worker to stop it: the job was revoked and may run
     * elsewhere): Forge is interrupted and the attempt ends REQUEUED, never CANCELLED, so that even a stop that
     * reached the job's current assignment by mistake gives the job back rather than cancel it for its owner.
     */
    void requestTakeBack() {
        takeBackRequested = true;
    }

    /** The worker is shutting down and the grace period is over: Forge is interrupted, the job is given back. */
    void requestGiveBack() {
        giveBackRequested = true;
    }

    boolean cancelRequested() {
        return cancelRequested;
    }

    boolean giveBackRequested() {
        return giveBackRequested;
    }

    boolean takeBackRequested() {
        return takeBackRequested;
    }

    /** Whether Forge should not be called (again) for this attempt. */
    boolean shouldStop() {
        return cancelRequested || giveBackRequested || takeBackRequested;
    }

    /**
     * Interrupts Forge for this attempt at most once, whichever thread asks first (the cancel listener and the
     * progress poll both do): only the thread that claims it calls {@code interrupt}, and a claim whose interrupt was
     * not sent (Forge not busy yet) is given up, so a later poll tries again. Forge's interrupt is global: a second
     * one, sent after this job ended, would cut short the next job Forge runs.
     *
     * @param interrupt sends the interrupt if it still applies; says whether it was sent
     * @return whether this call sent it
     */
    boolean interruptOnce(BooleanSupplier interrupt) {
        if (!interrupting.compareAndSet(false, true)) {
            return false;
        }
        boolean sent = false;
        try {
            sent = interrupt.getAsBoolean();
            return sent;
        } finally {
            if (sent) {
                interruptSent = true;
            } else {
                interrupting.set(false);
            }
        }
    }

    /** Whether Forge was interrupted for this attempt: its images, if any, are partial. */
    boolean interruptSent() {
        return interruptSent;
    }
}
