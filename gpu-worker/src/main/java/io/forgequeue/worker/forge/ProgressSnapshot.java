package io.forgequeue.worker.forge;

import tools.jackson.databind.JsonNode;

/**
 * One answer of GET /sdapi/v1/progress (forge-api.md §5). Hints only: it describes whatever job Forge runs, may
 * be stale, and says nothing when {@link #jobCount()} is 0 (idle; the flags then still describe the last job).
 *
 * @param progress      0..1 over the whole job
 * @param etaRelative   seconds left as Forge estimates them (unreliable early on)
 * @param jobCount      0 idle, -1 just started, else the number of batches
 * @param jobNo         current batch
 * @param samplingStep  current step of the batch
 * @param samplingSteps steps of the batch
 * @param interrupted   Forge's interrupted flag (kept from the last job while idle)
 * @param currentImage  base64 live preview, or null (only when requested and available)
 */
public record ProgressSnapshot(double progress, double etaRelative, int jobCount, int jobNo, int samplingStep,
                               int samplingSteps, boolean interrupted, String currentImage) {

    /** Whether Forge is running some job (ours while our txt2img is in flight). */
    public boolean busy() {
        return jobCount != 0;
    }

    /** The live preview's bytes, or null when there is none or it is not base64. */
    public byte[] currentImageBytes() {
        return currentImage == null ? null : ResultImages.decode(currentImage);
    }

    static ProgressSnapshot parse(JsonNode root) {
        JsonNode state = root.path("state");
        JsonNode image = root.get("current_image");
        return new ProgressSnapshot(
                root.path("progress").asDouble(0),
                root.path("eta_relative").asDouble(0),
                state.path("job_count").asInt(0),
                state.path("job_no").asInt(0),
                state.path("sampling_step").asInt(0),
                state.path("sampling_steps").asInt(0),
                state.path("interrupted").asBoolean(false),
                image == null || image.isNull() || !image.isString() || image.asString().isEmpty()
                        ? null : image.asString());
    }
}
