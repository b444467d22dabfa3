package io.forgequeue.gateway.job;

import io.forgequeue.gateway.fleet.FleetWorker;
import io.forgequeue.gateway.fleet.WorkerDirectory;
import io.forgequeue.model.JobSpec;
import io.forgequeue.model.Topology;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.tags.Tag;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * {@code GET /api/v1/options}: what a client may put in a job, so a form can offer choices instead of guesses.
 * The lists are the gateway's configured ones ({@code gateway.jobs.*}); an empty list means any valid name. Which
 * checkpoints the connected GPUs offer right now, and on how many, comes from the workers' announcements.
 */
@RestController
@Tag(name = "jobs")
class OptionsController {

    private final JobProperties properties;
    private final WorkerDirectory fleet;

    OptionsController(JobProperties properties, WorkerDirectory fleet) {
        this.properties = properties;
        this.fleet = fleet;
    }

    @GetMapping("/api/v1/options")
    @Operation(
            summary = "Submission options",
            description = "Pools, known samplers and checkpoints (empty = any "
                    + "valid name), which checkpoints the GPUs offer now (and on how many, and how many have it loaded: a "
                    + "job for a loaded checkpoint starts without a model switch), the defaults and the limits of every "
                    + "field.")
    OptionsView options() {
        Map<String, int[]> byName = new TreeMap<>();
        properties.checkpoints().forEach(c -> byName.put(c, new int[2]));
        for (FleetWorker worker : fleet.available()) {
            for (String name : worker.checkpoints()) {
                int[] counts = byName.computeIfAbsent(name, n -> new int[2]);
                counts[0]++;
                if (worker.hasLoaded(name)) {
                    counts[1]++;
                }
            }
        }
        List<CheckpointView> available = new ArrayList<>();
        byName.forEach((name, c) -> available.add(new CheckpointView(name, c[0], c[1])));
        return new OptionsView(
                properties.pools().isEmpty() ? List.of(Topology.DEFAULT_POOL) : properties.pools(),
                properties.samplers(),
                properties.checkpoints(),
                available,
                Limits.INSTANCE);
    }

    /**
     * @param pools       pools a job may name (the first is the default)
     * @param samplers    sampler names accepted; empty = any valid name
     * @param checkpoints checkpoint names accepted; empty = any valid name
     * @param available   every checkpoint accepted or offered now, with the GPUs that offer it and have it loaded
     * @param limits      field limits and defaults
     */
    record OptionsView(
            List<String> pools,
            List<String> samplers,
            List<String> checkpoints,
            List<CheckpointView> available,
            Limits limits) {}

    /**
     * A checkpoint and the GPUs that can run it now.
     *
     * @param gpus   available workers whose Forge offers it (0: a job for it waits until one does)
     * @param loaded of those, the ones that have it loaded (no model switch before the job)
     */
    record CheckpointView(String name, int gpus, int loaded) {}

    /** The limits of {@link JobSpec.Limits} and the defaults of {@link JobSpec}, as JSON. */
    record Limits(
            int promptMaxChars,
            int sizeMin,
            int sizeMax,
            int sizeMultiple,
            long pixelsMax,
            int stepsMin,
            int stepsMax,
            double cfgMin,
            double cfgMax,
            long seedMax,
            int batchMin,
            int batchMax,
            int defaultSize,
            int defaultSteps,
            double defaultCfgScale) {

        static final Limits INSTANCE = new Limits(
                JobSpec.Limits.PROMPT_MAX_CHARS,
                JobSpec.Limits.SIZE_MIN,
                JobSpec.Limits.SIZE_MAX,
                JobSpec.Limits.SIZE_MULTIPLE,
                JobSpec.Limits.PIXELS_MAX,
                JobSpec.Limits.STEPS_MIN,
                JobSpec.Limits.STEPS_MAX,
                JobSpec.Limits.CFG_MIN,
                JobSpec.Limits.CFG_MAX,
                JobSpec.Limits.SEED_MAX,
                JobSpec.Limits.BATCH_MIN,
                JobSpec.Limits.BATCH_MAX,
                JobSpec.DEFAULT_SIZE,
                JobSpec.DEFAULT_STEPS,
                JobSpec.DEFAULT_CFG_SCALE);
    }
}
