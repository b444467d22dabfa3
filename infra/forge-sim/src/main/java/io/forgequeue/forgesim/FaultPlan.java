package io.forgequeue.forgesim;

import java.util.Random;

import tools.jackson.databind.node.ObjectNode;

/**
 * Injected faults for txt2img: fail the next N calls, hang the next N calls, fail at random with a seeded rate, hold
 * the next N calls at a sampling step (holding the queue lock) until released, and interrupt the next N calls at a
 * sampling step as another client's {@code POST /interrupt} would, and make the next N calls ignore the checkpoint
 * they ask for (Forge issues #1940, #1610: the loaded model runs instead, reported truthfully). Thread-safe
 * (synchronized; hung and held calls wait on this object's monitor).
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

    private int failNext;

    private Failure failure = new Failure("RuntimeError", null, 0);

    private int hangNext;

    private int hungNow;

    private long releaseEpoch;

    private int holdNext;

    private int holdAtStep;

    private int heldNow;

    private long holdReleaseEpoch;

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

    /** The next {@code count} calls stop after {@code atStep} sampling steps (0: before the first) and hold the lock. */
    synchronized void holdNext(int count, int atStep) {
        holdNext = Math.max(0, count);
        holdAtStep = Math.max(0, atStep);
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
        holdNext = 0;
        interruptNext = 0;
        releaseEpoch++;
        holdReleaseEpoch++;
        notifyAll();
    }

    /** Lets every hung and held call go on; faults planned for later calls stay. */
    synchronized void release() {
        releaseEpoch++;
        holdReleaseEpoch++;
        notifyAll();
    }

    /** The sampling step this call is to be held at (consumes one from "hold next N"), or -1. */
    synchronized int takeHold() {
        if (holdNext > 0) {
            holdNext--;
            return holdAtStep;
        }
        return -1;
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
     * Blocks a held call until {@link #release()} or {@link #clear()} (returns normally) or until the calling
     * thread is interrupted (the sim goes down or stops).
     */
    synchronized void awaitHoldRelease() throws InterruptedException {
        long epoch = holdReleaseEpoch;
        heldNow++;
        notifyAll();
        try {
            while (holdReleaseEpoch == epoch) {
                wait();
            }
        }
        finally {
            heldNow--;
        }
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
     * Blocks a hung call until {@link #clear()} (returns normally) or until the calling thread is interrupted
     * (the sim goes down or stops).
     */
    synchronized void awaitRelease() throws InterruptedException {
        long epoch = releaseEpoch;
        hungNow++;
        try {
            while (releaseEpoch == epoch) {
                wait();
            }
        }
        finally {
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
        node.put("holdNext", holdNext);
        node.put("holdAtStep", holdAtStep);
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
            case "OutOfMemoryError" -> "CUDA out of memory. Tried to allocate 2.50 GiB. GPU 0 has a total capacity of 23.99 GiB "
                    + "of which 1.13 GiB is free. Of the allocated memory 19.87 GiB is allocated by PyTorch, and 1.42 GiB is "
                    + "reserved by PyTorch but unallocated. If reserved but unallocated memory is large try setting "
                    + "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation. (forge-sim: injected)";
            case "NansException" -> "A tensor with all NaNs was produced in Unet. This could be either because there's not "
                    + "enough precision to represent the picture, or because your video card does not support half type. "
                    + "(forge-sim: injected)";
            case "RuntimeError" -> "forge-sim: injected failure";
            default -> "forge-sim: injected " + error;
        };
    }
}
