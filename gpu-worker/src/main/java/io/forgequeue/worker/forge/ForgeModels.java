package io.forgequeue.worker.forge;

import io.forgequeue.model.JobSpec;
import io.forgequeue.worker.system.WorkerMetrics;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the worker knows about its Forge's models: the checkpoint loaded now, as the last txt2img showed it
 * ({@code info.sd_model_name}/{@code sd_model_hash}, matched against the catalog), and the speed and load times
 * learned from its own calls ({@link ForgeTimings}). Counts checkpoint switches by checkpoint.
 *
 * <p>Forge loads lazily and nothing at startup (forge-api.md §9), and its {@code sd_model_checkpoint} option is the
 * checkpoint <em>selected</em>, not necessarily loaded (§7), so the loaded checkpoint is unknown (null) until a call
 * of this worker ran. It becomes unknown again whenever something else may have changed it: a txt2img that failed or
 * was abandoned, another client's job on a shared Forge, Forge refusing connections (a restart unloads everything).
 * Thread-safe.
 */
final class ForgeModels {

    private static final Logger log = LoggerFactory.getLogger(ForgeModels.class);

    /**
     * What one answered call was, model-wise.
     *
     * @param ran            the checkpoint that ran (offered name), or null when it cannot be told
     * @param loadNanos      the part of the call spent loading a checkpoint on a switch (0 without a switch or when
     *                       unknown): the worker's GPU time loading
     * @param firstLoadNanos the part of the call spent on a load judged after an unknown state (the worker's first
     *                       call, or one after a failure; 0 when none or unknown): not a switch, but not generation
     *                       either
     * @param loadUnsplit    the call may have loaded a checkpoint, but the worker cannot tell how long yet: its first
     *                       complete call (Forge loads lazily, so that one usually loads) or a switch, before it has
     *                       measured its own speed. The gateway then keeps the call's time out of the pool's job times
     *                       (a Forge's first load, 5-100 s, counted as a slow job otherwise)
     */
    record Run(String ran, long loadNanos, long firstLoadNanos, boolean loadUnsplit) {

        Run(String ran, long loadNanos, long firstLoadNanos) {
            this(ran, loadNanos, firstLoadNanos, false);
        }

        /** The part of the call spent loading a checkpoint, whatever the cause. */
        long anyLoadNanos() {
            return loadNanos + firstLoadNanos;
        }
    }

    private final ForgeTimings timings = new ForgeTimings();
    private final CheckpointTags tags;
    private final WorkerMetrics metrics;
    private String loaded;
    private boolean learnNext = true;

    ForgeModels(WorkerMetrics metrics, int taggedCheckpoints) {
        this.metrics = metrics;
        this.tags = new CheckpointTags(taggedCheckpoints, metrics::checkpointSeen);
    }

    /**
     * An answered txt2img: takes in which model ran and learns its timing.
     *
     * @param spec      the job's settings (its work in reference steps)
     * @param info      Forge's info of the answer
     * @param models    the listed checkpoints (empty when unknown)
     * @param callNanos the call's wall time
     * @param complete  whether the call generated every image it was asked for (no interrupt): only such calls teach
     *                  the averages
     */
    Run answered(JobSpec spec, ForgeInfo info, List<Checkpoint> models, long callNanos, boolean complete) {
        Checkpoint ranModel = ModelCheck.ranModel(info, models);
        String ran = ranModel == null ? null : ranModel.offeredName();
        String before;
        boolean learn;
        synchronized (this) {
            before = loaded;
            learn = learnNext && complete;
            learnNext = true;
            loaded = ran;
        }
        if (ran == null) {
            return new Run(null, 0, 0);
        }
        double reference = ForgeTimings.referenceSteps(spec.steps(), spec.batchSize(), spec.width(), spec.height());
        boolean speedKnown = timings.secondsPerStep() != null;
        if (before == null) {
            // perhaps a first load (Forge loads lazily, nothing at its start): the timings judge it once the speed is
            // known; no switch is counted, as none can be told
            ForgeTimings.Split first =
                    complete ? timings.record(null, ran, reference, callNanos / 1e9, learn) : ForgeTimings.Split.NONE;
            return new Run(ran, 0, Math.round(first.loadSeconds() * 1e9), complete && !speedKnown);
        }
        ForgeTimings.Split split = complete
                ? timings.record(before, ran, reference, callNanos / 1e9, learn)
                : new ForgeTimings.Split(!before.equals(ran), 0);
        if (!split.switched()) {
            return new Run(ran, 0, 0);
        }
        long loadNanos = complete && timings.secondsPerStep() != null && split.loadSeconds() >= 0
                ? Math.round(split.loadSeconds() * 1e9)
                : -1;
        metrics.checkpointSwitched(tags.tagFor(ran), learn ? loadNanos : -1);
        log.debug(
                "Forge switched checkpoint {} -> {} (load {} ms)",
                before,
                ran,
                loadNanos < 0 ? "unknown" : loadNanos / 1_000_000);
        return new Run(ran, Math.max(0, loadNanos), 0, loadNanos < 0);
    }

    /** The worker asked Forge to select a checkpoint: the next call's timing may hold a load done meanwhile. */
    synchronized void selected() {
        learnNext = false;
    }

    /** Something else may have changed the loaded checkpoint: it is unknown until the next answered call. */
    void unknown(String why) {
        synchronized (this) {
            if (loaded == null) {
                return;
            }
            loaded = null;
        }
        log.debug("Loaded checkpoint unknown: {}", why);
    }

    /** Takes the offered checkpoints in as metric tag values (while there is room). */
    void offered(List<String> checkpoints) {
        tags.offered(checkpoints);
    }

    /** The checkpoint loaded now (offered name), or null when unknown. */
    synchronized String loaded() {
        return loaded;
    }

    /** Measured seconds per sampling step of a 512×512 image, or null before it is known. */
    Double secondsPerStep() {
        return timings.secondsPerStep();
    }

    /** Measured seconds to load each checkpoint, by offered name. */
    Map<String, Double> loadSeconds() {
        return timings.loadSeconds();
    }
}
