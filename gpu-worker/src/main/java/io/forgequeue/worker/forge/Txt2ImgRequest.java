package io.forgequeue.worker.forge;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import io.forgequeue.model.JobSpec;
import java.util.Map;
import java.util.UUID;

/**
 * Body of POST /sdapi/v1/txt2img (forge-api.md §3). Null fields are left out so Forge applies its defaults.
 *
 * <p>Fixed choices: one batch ({@code n_iter 1}) of {@code batch_size} images; {@code send_images true} and
 * {@code save_images false} (no files on the server and no grid at index 0); {@code force_task_id} = the job id, and
 * for each request sent, the job id plus a random suffix ({@link #withTaskId}) so that Forge's per-task progress tells
 * every request (a retry, an abandoned one) apart;
 * the checkpoint is chosen per job through {@code override_settings} (atomic with the job, unlike POST /options)
 * and NOT restored afterwards, so that consecutive jobs on the same checkpoint cost no reload in Forge.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
record Txt2ImgRequest(
        String prompt,
        @JsonProperty("negative_prompt") String negativePrompt,
        int width,
        int height,
        int steps,
        @JsonProperty("cfg_scale") double cfgScale,
        @JsonProperty("sampler_name") String samplerName,
        String scheduler,
        long seed,
        @JsonProperty("batch_size") int batchSize,
        @JsonProperty("n_iter") int nIter,
        @JsonProperty("override_settings") Map<String, Object> overrideSettings,

        @JsonProperty("override_settings_restore_afterwards")
        Boolean overrideSettingsRestoreAfterwards,

        @JsonProperty("send_images") boolean sendImages,
        @JsonProperty("save_images") boolean saveImages,
        @JsonProperty("force_task_id") String forceTaskId) {

    /** The same request with another {@code force_task_id}. */
    Txt2ImgRequest withTaskId(String taskId) {
        return new Txt2ImgRequest(
                prompt,
                negativePrompt,
                width,
                height,
                steps,
                cfgScale,
                samplerName,
                scheduler,
                seed,
                batchSize,
                nIter,
                overrideSettings,
                overrideSettingsRestoreAfterwards,
                sendImages,
                saveImages,
                taskId);
    }

    static Txt2ImgRequest of(UUID jobId, JobSpec spec) {
        Map<String, Object> overrides =
                spec.checkpoint() == null ? null : Map.of("sd_model_checkpoint", spec.checkpoint());
        return new Txt2ImgRequest(
                spec.prompt(),
                spec.negativePrompt(),
                spec.width(),
                spec.height(),
                spec.steps(),
                spec.cfgScale(),
                spec.sampler(),
                spec.scheduler(),
                spec.seed(),
                spec.batchSize(),
                1,
                overrides,
                overrides == null ? null : Boolean.FALSE,
                true,
                false,
                jobId.toString());
    }
}
