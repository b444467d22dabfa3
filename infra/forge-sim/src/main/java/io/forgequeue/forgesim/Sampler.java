package io.forgequeue.forgesim;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The sampling loop: {@code stepMs} per step while updating {@link GenerationState} as Forge's sampler callbacks do,
 * honouring interrupt and skip at step boundaries, and letting a call's injected faults act at the step counted over
 * the whole call (held with the lock kept and state visible, interrupted, failed). Also counts the out-of-memory
 * errors the sim reports. Thread-safe; runs on the calling job's thread.
 */
final class Sampler {

    private final GenerationState state;

    private final FaultPlan faults;

    private final SimStats stats;

    private final CallAborts aborts;

    private final AtomicLong ooms = new AtomicLong();

    private volatile long stepNanos;

    Sampler(GenerationState state, FaultPlan faults, SimStats stats, CallAborts aborts, double stepMs) {
        this.state = state;
        this.faults = faults;
        this.stats = stats;
        this.aborts = aborts;
        stepMs(stepMs);
    }

    void stepMs(double ms) {
        this.stepNanos = (long) (ms * 1_000_000);
    }

    double stepMs() {
        return stepNanos / 1e6;
    }

    long ooms() {
        return ooms.get();
    }

    /**
     * One sampling pass; returns the number of steps completed before an interrupt or skip stopped it.
     *
     * @param stepCounter the steps sampled so far in this call (all passes), advanced here
     */
    int sample(int steps, ImageRenderer.Spec source, CallFaults callFaults, int[] stepCounter, long myEpoch) {
        state.startSampling(steps, source);
        long deadline = System.nanoTime();
        int done = 0;
        for (int k = 1; k <= steps; k++) {
            if (stepCounter[0] == callFaults.interruptAt()) {
                state.interrupt(); // as another client's POST /interrupt at this moment
            }
            if (hold(callFaults.hold(), stepCounter[0], myEpoch)) {
                deadline = System.nanoTime(); // the steps after a hold take their own time again
            }
            if (state.interrupted() || state.skipped()) {
                break; // the denoiser checks the flags before each step and returns the last latent
            }
            long step = stepNanos;
            if (step > 0) {
                deadline += step;
                aborts.waitUntil(deadline, myEpoch);
            } else {
                aborts.check(myEpoch);
            }
            done = k;
            state.stepDone(k - 1);
            stepCounter[0]++;
            FaultPlan.Failure failure = callFaults.failure();
            if (failure != null && stepCounter[0] == failure.atStep()) {
                throw fail(failure);
            }
        }
        return done;
    }

    /** The error an injected failure answers with (an OutOfMemoryError is counted). */
    ApiError fail(FaultPlan.Failure failure) {
        if (failure.error().equals("OutOfMemoryError")) {
            ooms.incrementAndGet();
        }
        return ApiError.python(failure.error(), failure.message());
    }

    /** The error of a batch too large for the simulated VRAM (counted). */
    ApiError outOfMemory() {
        ooms.incrementAndGet();
        return ApiError.python("OutOfMemoryError", FaultPlan.defaultMessage("OutOfMemoryError"));
    }

    /**
     * Holds the call here, after {@code steps} sampling steps, with the queue lock and its state visible, when its
     * own hold or the hold fault for every call says so (see {@link FaultPlan}); returns whether it was held.
     */
    private boolean hold(FaultPlan.CallHold hold, int steps, long myEpoch) {
        boolean held;
        try {
            held = faults.holdAt(hold, steps, stats::held, () -> state.interrupted() || state.skipped());
        } catch (InterruptedException e) {
            throw new Txt2ImgEngine.Aborted();
        }
        if (held) {
            aborts.check(myEpoch);
        }
        return held;
    }
}
