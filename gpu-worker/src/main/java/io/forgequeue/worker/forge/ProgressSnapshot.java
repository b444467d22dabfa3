package io.forgequeue.worker.forge;

import tools.jackson.databind.JsonNode;

/**
 * One answer of GET /sdapi/v1/progress (forge-api.md §5). Hints only: it describes whatever job Forge runs (it has no
 * task id, so it may be another client's), may be stale, and says nothing when {@link #jobCount()} is 0 (idle; the
 * flags, {@code job_timestamp} and step fields then still describe the last job).
 *
 * @param progress      0..1 over the whole job
 * @param etaRelative   seconds left as Forge estimates them (unreliable early on)
 * @param jobCount      0 idle, -1 just started, else the number of batches
 * @param jobNo         current batch
 * @param samplingStep  current step of the batch
 * @param samplingSteps steps of the batch (the last job's until the running one starts sampling)
 * @param interrupted   Forge's interrupted flag (kept from the last job while idle)
 * @param skipped       Forge's skipped flag (kept from the last job while idle)
 * @param job           Forge's job name: "scripts_txt2img" for an API txt2img of one batch, "" when idle; null when
 *                      the field is missing
 * @param jobTimestamp  the {@code yyyyMMddHHmmss} stamp of the running (or last) job, set when it began; null when
 *                      missing
 * @param currentImage  base64 live preview, or null (only when requested and available)
 */
public record ProgressSnapshot(
        double progress,
        double etaRelative,
        int jobCount,
        int jobNo,
        int samplingStep,
        int samplingSteps,
        boolean interrupted,
        boolean skipped,
        String job,
        String jobTimestamp,
        String currentImage) {

    /** Whether Forge is running some job (not necessarily ours). */
    public boolean busy() {
        return jobCount != 0;
    }

    /** Whether the running (or last) job was interrupted or skipped: its images, if any, are unfinished. */
    public boolean stopped() {
        return interrupted || skipped;
    }

    /** The live preview's bytes, or null when there is none or it is not base64. */
    public byte[] currentImageBytes() {
        return currentImage == null ? null : ResultImages.decode(currentImage);
    }

    static ProgressSnapshot parse(JsonNode root) {
        JsonNode state = root.path("state");
        return new ProgressSnapshot(
                root.path("progress").asDouble(0),
                root.path("eta_relative").asDouble(0),
                state.path("job_count").asInt(0),
                state.path("job_no").asInt(0),
                state.path("sampling_step").asInt(0),
                state.path("sampling_steps").asInt(0),
                state.path("interrupted").asBoolean(false),
                state.path("skipped").asBoolean(false),
                text(state.get("job")),
                text(state.get("job_timestamp")),
                emptyToNull(text(root.get("current_image"))));
    }

    private static String text(JsonNode node) {
        return node == null || node.isNull() || !node.isString() ? null : node.asString();
    }

    private static String emptyToNull(String s) {
        return s == null || s.isEmpty() ? null : s;
    }
}
