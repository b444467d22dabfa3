package io.forgequeue.forgesim;

import java.util.Random;
import java.util.function.BooleanSupplier;

import tools.jackson.databind.node.ObjectNode;

/**
 * Injected faults for txt2img: fail the next N calls, hang the next N calls, fail at random with a seeded rate, hold
 * calls at a sampling step. Thread-safe (synchronized; hung and held calls wait on this object's monitor).
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

    private int holdAtStep;

    private int heldNow;

    private long holdEpoch;

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

    /**
     * From now on every call stops after sampling step {@code step} (counted over the whole call, 1-based) and waits
     * there, holding the queue lock, until it is released, the hold moves to another step, the faults are cleared or
     * the call is interrupted or skipped. {@code 0} removes the hold.
     */
    synchronized void holdAtStep(int step) {
        holdAtStep = Math.max(0, step);
        notifyAll();
    }

    /** Lets the calls held right now go on; the hold stays for the calls that reach its step later. */
    synchronized void releaseHeld() {
        holdEpoch++;
        notifyAll();
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

    /** Clears every fault and lets hung calls go on (they then run normally). */
    synchronized void clear() {
        failNext = 0;
        hangNext = 0;
        failureRate = 0;
        holdAtStep = 0;
        releaseEpoch++;
        holdEpoch++;
        notifyAll();
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

    /**
     * Holds a call that has just finished sampling step {@code step} when the hold is set at that step: runs
     * {@code onHold} once, then waits until the call is released ({@link #releaseHeld()}, {@link #clear()}, the hold
     * moves) or {@code stop} says the call was interrupted or skipped (checked every 20 ms). Returns whether the call
     * was held.
     */
    synchronized boolean holdAfter(int step, Runnable onHold, BooleanSupplier stop) throws InterruptedException {
        if (holdAtStep != step || stop.getAsBoolean()) {
            return false;
        }
        long epoch = holdEpoch;
        heldNow++;
        onHold.run();
        try {
            while (holdAtStep == step && holdEpoch == epoch && !stop.getAsBoolean()) {
                wait(20);
            }
        }
        finally {
            heldNow--;
        }
        return true;
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
        node.put("heldNow", heldNow);
        node.put("failureRate", failureRate);
        node.put("failureSeed", failureSeed);
        node.put("failureRateError", rateFailure.error());
        return node;
    }

    synchronized int hungNow() {
        return hungNow;
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
