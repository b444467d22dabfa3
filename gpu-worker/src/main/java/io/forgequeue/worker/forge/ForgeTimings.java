package io.forgequeue.worker.forge;

import java.util.ArrayDeque;
import java.util.Deque;
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
 * that gets slower.
 *
 * <p>First loads count too. Forge loads nothing at startup and loads lazily (forge-api.md §9), so the worker's first
 * call loads its checkpoint, although what was loaded before it is unknown; and a switch before the speed is known
 * cannot be split. Such calls are kept (at most {@link #PENDING}) and split once the speed is known. A call after an
 * unknown state counts as a load only when it took clearly longer than its generation
 * ({@link #UNKNOWN_LOAD_SHARE}): a worker that restarted next to a Forge that kept the checkpoint loaded loads nothing.
 * Without this a fleet that never switched never measured a load (the first loads were its only loads), and the
 * scheduler's placement kept assuming its default load time (issue 17's mixed-fleet benchmark). Thread-safe
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
     * @param loadSeconds the part of the call spent loading a checkpoint: of the switch, or of a load judged from the
     *                    call's time after an unknown state (a first load: {@code switched} false); 0 without either,
     *                    or when the speed is not known yet
     */
    record Split(boolean switched, double loadSeconds) {

        static final Split NONE = new Split(false, 0);
    }

    /** Most calls kept for splitting until the speed is known. */
    static final int PENDING = 16;
    /**
     * A call after an unknown state counts as a load when the time beyond its expected generation is at least this
     * share of that generation (a load of a real checkpoint takes seconds; timing noise of a call that loaded nothing
     * stays well below a quarter of it).
     */
    static final double UNKNOWN_LOAD_SHARE = 0.25;

    private Double secondsPerStep;
    private final Map<String, Double> loadSeconds = new TreeMap<>();
    /** Calls that loaded (or may have loaded) a checkpoint before the speed was known, oldest first. */
    private final Deque<Pending> pending = new ArrayDeque<>();

    /**
     * A call to split once the speed is known.
     *
     * @param surely whether it surely loaded (a switch seen); else what was loaded before was unknown
     */
    private record Pending(String ran, double referenceSteps, double seconds, boolean surely) {}

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
        if (ran == null || !(referenceSteps > 0) || !(seconds >= 0)) {
            return Split.NONE;
        }
        if (before == null) {
            double load = learn ? loadedAfterUnknown(ran, referenceSteps, seconds) : 0;
            return load > 0 ? new Split(false, load) : Split.NONE;
        }
        if (before.equals(ran)) {
            if (learn) {
                boolean first = secondsPerStep == null;
                secondsPerStep = average(secondsPerStep, seconds / referenceSteps);
                if (first) {
                    splitPending();
                }
            }
            return Split.NONE;
        }
        if (secondsPerStep == null) {
            if (learn) {
                keep(new Pending(ran, referenceSteps, seconds, true));
            }
            return new Split(true, 0);
        }
        double load = Math.max(0, seconds - secondsPerStep * referenceSteps);
        if (learn) {
            loadSeconds.put(ran, average(loadSeconds.get(ran), load));
        }
        return new Split(true, load);
    }

    /**
     * A complete call after an unknown state (the worker's first, or after a failure): perhaps a first load.
     *
     * @return the seconds it loaded, or 0 when it judged no load (or cannot yet: the speed is not known)
     */
    private double loadedAfterUnknown(String ran, double referenceSteps, double seconds) {
        if (secondsPerStep == null) {
            keep(new Pending(ran, referenceSteps, seconds, false));
            return 0;
        }
        double generation = secondsPerStep * referenceSteps;
        double load = seconds - generation;
        if (load >= UNKNOWN_LOAD_SHARE * generation && load > 0) {
            loadSeconds.put(ran, average(loadSeconds.get(ran), load));
            return load;
        }
        return 0;
    }

    private void keep(Pending call) {
        if (pending.size() >= PENDING) {
            pending.removeFirst();
        }
        pending.addLast(call);
    }

    /** The speed is known now: splits the calls kept until then, oldest first. */
    private void splitPending() {
        for (Pending p; (p = pending.pollFirst()) != null; ) {
            if (p.surely()) {
                loadSeconds.put(
                        p.ran(),
                        average(
                                loadSeconds.get(p.ran()),
                                Math.max(0, p.seconds() - secondsPerStep * p.referenceSteps())));
            } else {
                loadedAfterUnknown(p.ran(), p.referenceSteps(), p.seconds());
            }
        }
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
