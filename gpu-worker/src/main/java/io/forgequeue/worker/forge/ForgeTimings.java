package io.forgequeue.worker.forge;

import java.util.Map;
import java.util.TreeMap;

/**
 * This Forge's speed and checkpoint load times, learned from the worker's own txt2img calls, for the
 * scheduler's placement and ETAs.
 *
 * <p>A job's work is its sampling steps at the reference size: {@code steps × batch size × width × height / 512²}
 * ("reference steps"). A call that needed no checkpoint switch (the model that ran is the one that was loaded
 * before) gives a speed sample, {@code call seconds / reference steps}. A call that switched took
 * {@code call seconds − expected generation seconds} to load its checkpoint (at least 0), once the speed is known.
 * Both are exponential moving averages ({@link #ALPHA}), so that the figures follow a GPU that gets busier or a disk
 * that gets slower. A call for which it is unknown what was loaded before teaches nothing. Thread-safe
 * (synchronized).
 */
final class ForgeTimings {

    /** Weight of the newest sample in the moving averages. */
    static final double ALPHA = 0.3;
    /** The reference image: 512×512 pixels. */
    static final double REFERENCE_PIXELS = 512.0 * 512.0;

    /**
     * What one call was, as far as GPU time goes.
     *
     * @param switched    whether it loaded another checkpoint first (false also when that is unknown)
     * @param loadSeconds the part of the call spent loading it (0 without a switch, or when the speed is not known yet)
     */
    record Split(boolean switched, double loadSeconds) {

        static final Split NONE = new Split(false, 0);
    }

    private Double secondsPerStep;
    private final Map<String, Double> loadSeconds = new TreeMap<>();

    /** Reference steps of a job: steps × images × pixels / 512². */
    static double referenceSteps(int steps, int batchSize, int width, int height) {
        return (double) steps * batchSize * width * height / REFERENCE_PIXELS;
    }

    /**
     * Learns from one complete call.
     *
     * @param before         the checkpoint loaded before the call (offered name), or null when unknown
     * @param ran            the checkpoint that ran (offered name), or null when unknown
     * @param referenceSteps the job's work ({@link #referenceSteps})
     * @param seconds        the call's wall time
     * @param learn          whether the call may teach the averages (false, e.g., right after the worker asked Forge to
     *                       select a model, which some servers load during that request instead)
     * @return whether the call switched checkpoints and how long it loaded
     */
    synchronized Split record(String before, String ran, double referenceSteps, double seconds, boolean learn) {
        if (before == null || ran == null || !(referenceSteps > 0) || !(seconds >= 0)) {
            return Split.NONE;
        }
        if (before.equals(ran)) {
            if (learn) {
                secondsPerStep = average(secondsPerStep, seconds / referenceSteps);
            }
            return Split.NONE;
        }
        if (secondsPerStep == null) {
            return new Split(true, 0);
        }
        double load = Math.max(0, seconds - secondsPerStep * referenceSteps);
        if (learn) {
            loadSeconds.put(ran, average(loadSeconds.get(ran), load));
        }
        return new Split(true, load);
    }

    /** Measured seconds per reference step (a 512×512 image's sampling step), or null before any sample. */
    synchronized Double secondsPerStep() {
        return secondsPerStep;
    }

    /** Measured seconds to load each checkpoint, by offered name. */
    synchronized Map<String, Double> loadSeconds() {
        return Map.copyOf(loadSeconds);
    }

    private static double average(Double current, double sample) {
        return current == null ? sample : current + ALPHA * (sample - current);
    }
}
