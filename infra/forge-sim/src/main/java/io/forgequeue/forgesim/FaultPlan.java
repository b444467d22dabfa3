package io.forgequeue.forgesim;

import java.util.OptionalInt;
import java.util.Random;
import java.util.function.BooleanSupplier;
import tools.jackson.databind.node.ObjectNode;

/**
 * Injected faults for txt2img: fail the next N calls, hang the next N calls, fail at random with a seeded rate, hold
 * calls at a sampling step with the queue lock (the next N calls, or every call from now on) until released, and
 * interrupt the next N calls at a sampling step as another client's {@code POST /interrupt} would, and make the next N
 * calls ignore the checkpoint they ask for (Forge issues #1940, #1610: the loaded model runs instead, reported
 * truthfully). Thread-safe (synchronized; hung and held calls wait on this object's monitor).
 *
 * <p>There is one hold plan: a step and an optional count. With a count, the next N calls to take the lock are held
 * at that step, each until released or cleared: like a GPU stuck inside a step, an interrupt or skip acts only when
 * the call goes on. Without a count, every call (also one already running) is held when it reaches the step, and
 * waits between two steps where Forge checks its flags: an interrupt or skip ends the wait, and so does moving the
 * hold to another step. A foreign job may bring a step of its own ({@link #takeHold(int)}), held like a counted one.
 */
final class FaultPlan {

    /** How an injected failure looks: the Python exception class, its message, and the sampling step it hits at. */
    record Failure(String error, String message, int atStep) {

        Failure {
            if (error == null || error.isBlank()) {
                error = "RuntimeError";
            }
            if (message == null) {
                message = defaultMessage(error);
            }
            atStep = Math.max(0, atStep);
        }
    }

    /**
     * The hold of one call, taken when it takes the queue lock: the step its own hold stops it at (from a counted
     * hold, or its foreign job's; -1 for none), and the step it was last held at, so that it is held at most once at
     * each point. Guarded by the plan's monitor.
     */
    static final class CallHold {

        private final int ownStep;

        /** {@link #clearEpoch} when a counted hold plan gave this call its step (-1: not from the plan). */
        private final long planClearEpoch;

        private int heldAt = -1;

        private CallHold(int ownStep) {
            this(ownStep, -1);
        }

        private CallHold(int ownStep, long planClearEpoch) {
            this.ownStep = ownStep;
            this.planClearEpoch = planClearEpoch;
        }
    }

    private int failNext;

    private Failure failure = new Failure("RuntimeError", null, 0);

    private int hangNext;

    private int hungNow;

    private long releaseEpoch;

    /** The hold plan's step: after this many sampling steps (0: before the first; with no count, 0 is no hold). */
    private int holdAtStep;

    /** Calls the counted hold still takes (0 with no count). */
    private int holdNext;

    /** Whether the hold plan has no count: every call stops at its step. */
    private boolean holdEveryCall;

    private int heldNow;

    private long holdEpoch;

    /** Counts {@link #clear()}s: a step a counted plan gave a call before a clear no longer holds it. */
    private long clearEpoch;

    private int interruptNext;

    private int interruptAtStep;

    private int ignoreOverrideNext;

    private double failureRate;

    private Failure rateFailure = new Failure("RuntimeError", null, 0);

    private Random random = new Random(42);

    private long failureSeed = 42;

    synchronized void failNext(int count, Failure how) {
        failNext = Math.max(0, count);
        failure = how;
    }

    synchronized void hangNext(int count) {
        hangNext = Math.max(0, count);
    }

    synchronized void failureRate(double rate, long seed, Failure how) {
        if (rate < 0 || rate > 1) {
            throw new IllegalArgumentException("rate must be in 0..1");
        }
        failureRate = rate;
        failureSeed = seed;
        random = new Random(seed);
        rateFailure = how;
    }

    /**
     * Sets the hold plan, replacing the one before. With a count, the next {@code count} calls stop after
     * {@code atStep} sampling steps (0: before the first) and keep the lock until released. Without, every call
     * from now on stops after {@code atStep} steps ({@code 0} removes the hold); calls held at the old step of a plan
     * without count go on (and stop again at the new step if they have not passed it).
     */
    synchronized void hold(OptionalInt count, int atStep) {
        int step = Math.max(0, atStep);
        if (count.isPresent()) {
            holdNext = Math.max(0, count.getAsInt());
            holdEveryCall = false;
            holdAtStep = holdNext > 0 ? step : 0;
        } else {
            holdNext = 0;
            holdEveryCall = step > 0;
            holdAtStep = step;
        }
        notifyAll();
    }

    /** The next {@code count} calls are interrupted after {@code atStep} sampling steps (0: before the first). */
    synchronized void interruptNext(int count, int atStep) {
        interruptNext = Math.max(0, count);
        interruptAtStep = Math.max(0, atStep);
    }

    /**
     * The next {@code count} calls run the checkpoint that is loaded (the selected one when none is), whatever their
     * {@code override_settings} or POST /options ask for, and report it truthfully in {@code info}.
     */
    synchronized void ignoreOverrideNext(int count) {
        ignoreOverrideNext = Math.max(0, count);
    }

    /** Whether this call ignores the checkpoint it asks for (consumes one from "ignore override next N"). */
    synchronized boolean takeIgnoreOverride() {
        if (ignoreOverrideNext > 0) {
            ignoreOverrideNext--;
            return true;
        }
        return false;
    }

    /** Clears every fault and lets hung and held calls go on (they then run normally). */
    synchronized void clear() {
        ignoreOverrideNext = 0;
        failNext = 0;
        hangNext = 0;
        failureRate = 0;
        holdAtStep = 0;
        holdNext = 0;
        holdEveryCall = false;
        interruptNext = 0;
        releaseEpoch++;
        holdEpoch++;
        clearEpoch++;
        notifyAll();
    }

    /** Lets every hung and held call go on; faults planned for later calls (the hold plan too) stay. */
    synchronized void release() {
        releaseEpoch++;
        releaseHeld();
    }

    /** Lets the calls held right now go on; the hold plan stays for the calls that reach its step later. */
    synchronized void releaseHeld() {
        holdEpoch++;
        notifyAll();
    }

    /**
     * The hold of a call that has just taken the queue lock: {@code ownStep} if it brings one (a foreign job's, -1
     * for none), else one from a counted hold plan (consuming it), else none of its own. Every call also follows a
     * hold plan without count.
     */
    synchronized CallHold takeHold(int ownStep) {
        if (ownStep >= 0) {
            return new CallHold(ownStep);
        }
        if (holdNext > 0) {
            int step = holdAtStep;
            if (--holdNext == 0) {
                holdAtStep = 0;
            }
            return new CallHold(step, clearEpoch);
        }
        return new CallHold(-1);
    }

    /** The sampling step this call is to be interrupted at (consumes one from "interrupt next N"), or -1. */
    synchronized int takeInterrupt() {
        if (interruptNext > 0) {
            interruptNext--;
            return interruptAtStep;
        }
        return -1;
    }

    /**
     * Holds a call that has done {@code steps} sampling steps if its own hold or the hold plan without count stops it
     * there (once per point): runs {@code onHold}, then waits. A call held at its own step waits until released
     * ({@link #release()}, {@link #releaseHeld()}, {@link #clear()}); one held by the plan without count also goes on
     * when the plan moves or is removed, or when {@code interruptedOrSkipped} says so (checked every 20 ms). Throws
     * {@link InterruptedException} when the calling thread is interrupted (the sim goes down or stops).
     *
     * @return whether the call was held
     */
    synchronized boolean holdAt(CallHold call, int steps, Runnable onHold, BooleanSupplier interruptedOrSkipped)
            throws InterruptedException {
        if (call.heldAt == steps) {
            return false;
        }
        // a call that took its step from the counted plan and reaches it after a clear goes on: the plan is gone (it
        // was taken when the call started, the clear came during its first steps)
        boolean own = call.ownStep == steps && (call.planClearEpoch < 0 || call.planClearEpoch == clearEpoch);
        if (!own && !(holdsEveryCallAt(steps) && !interruptedOrSkipped.getAsBoolean())) {
            return false;
        }
        call.heldAt = steps;
        long epoch = holdEpoch;
        heldNow++;
        onHold.run();
        try {
            while (holdEpoch == epoch && (own || holdsEveryCallAt(steps) && !interruptedOrSkipped.getAsBoolean())) {
                wait(20);
            }
        } finally {
            heldNow--;
        }
        return true;
    }

    private boolean holdsEveryCallAt(int steps) {
        return holdEveryCall && holdAtStep == steps;
    }

    /** Whether this call is to hang (consumes one from "hang next N"). */
    synchronized boolean takeHang() {
        if (hangNext > 0) {
            hangNext--;
            return true;
        }
        return false;
    }

    /**
     * Blocks a hung call until {@link #clear()} or {@link #release()} (returns normally) or until the calling thread
     * is interrupted (the sim goes down or stops).
     */
    synchronized void awaitRelease() throws InterruptedException {
        long epoch = releaseEpoch;
        hungNow++;
        try {
            while (releaseEpoch == epoch) {
                wait();
            }
        } finally {
            hungNow--;
        }
    }

    /** The failure this call is to suffer, or null: "fail next N" first, then the random rate. */
    synchronized Failure takeFailure() {
        if (failNext > 0) {
            failNext--;
            return failure;
        }
        if (failureRate > 0 && random.nextDouble() < failureRate) {
            return rateFailure;
        }
        return null;
    }

    synchronized ObjectNode describe() {
        ObjectNode node = Json.object();
        node.put("failNext", failNext);
        node.put("failError", failure.error());
        node.put("failMessage", failure.message());
        node.put("failAtStep", failure.atStep());
        node.put("hangNext", hangNext);
        node.put("hungNow", hungNow);
        node.put("holdAtStep", holdAtStep);
        node.put("holdNext", holdNext);
        node.put("holdEveryCall", holdEveryCall);
        node.put("heldNow", heldNow);
        node.put("interruptNext", interruptNext);
        node.put("interruptAtStep", interruptAtStep);
        node.put("ignoreOverrideNext", ignoreOverrideNext);
        node.put("failureRate", failureRate);
        node.put("failureSeed", failureSeed);
        node.put("failureRateError", rateFailure.error());
        return node;
    }

    synchronized int hungNow() {
        return hungNow;
    }

    synchronized int heldNow() {
        return heldNow;
    }

    static String defaultMessage(String error) {
        return switch (error) {
            case "OutOfMemoryError" ->
                "CUDA out of memory. Tried to allocate 2.50 GiB. GPU 0 has a total capacity of 23.99 GiB "
                        + "of which 1.13 GiB is free. Of the allocated memory 19.87 GiB is allocated by PyTorch, and 1.42 GiB is "
                        + "reserved by PyTorch but unallocated. If reserved but unallocated memory is large try setting "
                        + "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation. (forge-sim: injected)";
            case "NansException" ->
                "A tensor with all NaNs was produced in Unet. This could be either because there's not "
                        + "enough precision to represent the picture, or because your video card does not support half type. "
                        + "(forge-sim: injected)";
            case "RuntimeError" -> "forge-sim: injected failure";
            default -> "forge-sim: injected " + error;
        };
    }
}
