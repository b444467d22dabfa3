package io.forgequeue.gateway.job;

import io.forgequeue.model.JobSpec;
import io.forgequeue.model.Topology;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.tags.Tag;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

import java.util.List;

/**
 * {@code GET /api/v1/options}: what a client may put in a job, so a form can offer choices instead of guesses.
 * The lists are the gateway's configured ones ({@code gateway.jobs.*}); an empty list means any valid name.
 */
@RestController
@Tag(name = "jobs")
class OptionsController {

    private final OptionsView options;

    OptionsController(JobProperties properties) {
        this.options = new OptionsView(
                properties.pools().isEmpty() ? List.of(Topology.DEFAULT_POOL) : properties.pools(),
                properties.samplers(), properties.checkpoints(), Limits.INSTANCE);
    }

    @GetMapping("/api/v1/options")
    @Operation(summary = "Submission options", description = "Pools, known samplers and checkpoints (empty = any "
            + "valid name), the defaults and the limits of every field.")
    OptionsView options() {
        return options;
    }

    /**
     * @param pools       pools a job may name (the first is the default)
     * @param samplers    sampler names accepted; empty = any valid name
     * @param checkpoints checkpoint names accepted; empty = any valid name
     * @param limits      field limits and defaults
     */
    record OptionsView(List<String> pools, List<String> samplers, List<String> checkpoints, Limits limits) {
    }

    /** The limits of {@link JobSpec.Limits} and the defaults of {@link JobSpec}, as JSON. */
    record Limits(int promptMaxChars, int sizeMin, int sizeMax, int sizeMultiple, long pixelsMax, int stepsMin,
                  int stepsMax, double cfgMin, double cfgMax, long seedMax, int batchMin, int batchMax,
                  int defaultSize, int defaultSteps, double defaultCfgScale) {

        static final Limits INSTANCE = new Limits(JobSpec.Limits.PROMPT_MAX_CHARS, JobSpec.Limits.SIZE_MIN,
                JobSpec.Limits.SIZE_MAX, JobSpec.Limits.SIZE_MULTIPLE, JobSpec.Limits.PIXELS_MAX,
                JobSpec.Limits.STEPS_MIN, JobSpec.Limits.STEPS_MAX, JobSpec.Limits.CFG_MIN, JobSpec.Limits.CFG_MAX,
                JobSpec.Limits.SEED_MAX, JobSpec.Limits.BATCH_MIN, JobSpec.Limits.BATCH_MAX, JobSpec.DEFAULT_SIZE,
                JobSpec.DEFAULT_STEPS, JobSpec.DEFAULT_CFG_SCALE);
    }
}
