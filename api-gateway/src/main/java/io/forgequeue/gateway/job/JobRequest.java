package io.forgequeue.gateway.job;

import io.forgequeue.gateway.quota.Priority;
import io.forgequeue.model.JobSpec;
import io.forgequeue.model.Topology;

/**
 * Body of {@code POST /api/v1/jobs}. Only {@code prompt} is required; every other field has the default shown.
 * Limits are those of {@link JobSpec.Limits}. Unknown fields are refused (400), so a typo is never silently
 * ignored.
 *
 * @param pool           group of workers that runs the job; default {@value Topology#DEFAULT_POOL}
 * @param prompt         what to draw, 1-2000 characters
 * @param negativePrompt what to avoid; default empty
 * @param width          pixels, 64-2048, a multiple of 8; default 512
 * @param height         pixels, 64-2048, a multiple of 8; default 512
 * @param steps          sampling steps, 1-150; default 20
 * @param cfgScale       guidance scale, 1-30; default 7
 * @param sampler        sampler name; default: the server's
 * @param scheduler      scheduler name; default: automatic
 * @param seed           -1 (random, default) or 0-4294967294
 * @param checkpoint     model name; default: the server's current one
 * @param batchSize      images, 1-8; default 1
 * @param priority       {@code high}, {@code normal} (default) or {@code low}; at most what the key is allowed
 */
public record JobRequest(
        String pool,
        String prompt,
        String negativePrompt,
        Integer width,
        Integer height,
        Integer steps,
        Double cfgScale,
        String sampler,
        String scheduler,
        Long seed,
        String checkpoint,
        Integer batchSize,
        Priority priority) {

    /** The priority class, defaulted. */
    Priority priorityOrDefault() {
        return priority == null ? Priority.NORMAL : priority;
    }

    /** The pool, defaulted. */
    String poolOrDefault() {
        return pool == null ? Topology.DEFAULT_POOL : pool;
    }

    /** The spec with defaults applied (not yet validated). */
    JobSpec toSpec() {
        return new JobSpec(
                prompt,
                negativePrompt,
                width == null ? JobSpec.DEFAULT_SIZE : width,
                height == null ? JobSpec.DEFAULT_SIZE : height,
                steps == null ? JobSpec.DEFAULT_STEPS : steps,
                cfgScale == null ? JobSpec.DEFAULT_CFG_SCALE : cfgScale,
                sampler,
                scheduler,
                seed == null ? JobSpec.Limits.RANDOM_SEED : seed,
                checkpoint,
                batchSize == null ? JobSpec.Limits.BATCH_MIN : batchSize);
    }
}
