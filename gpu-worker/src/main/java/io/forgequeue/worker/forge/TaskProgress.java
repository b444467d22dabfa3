package io.forgequeue.worker.forge;

import tools.jackson.databind.JsonNode;

/**
 * One answer of POST /internal/progress for a {@code force_task_id} (forge-api.md §5; WebUI mode only): whether that
 * task holds Forge's lock right now, and if so its progress and live preview. Unlike GET /sdapi/v1/progress this is
 * about one task, so it is never another client's job.
 *
 * @param active        the task holds the lock (it is the job Forge runs)
 * @param queued        the task waits for the lock
 * @param completed     the task finished (among the last 16)
 * @param progress      0..1, only while active, else null
 * @param eta           seconds left, only while active and once there is progress, else null
 * @param livePreview   a {@code data:} URI of a preview newer than the one asked about, or null
 * @param idLivePreview the id of that preview (pass it back to get only newer ones), or -1
 */
record TaskProgress(
        boolean active,
        boolean queued,
        boolean completed,
        Double progress,
        Double eta,
        String livePreview,
        int idLivePreview) {

    static TaskProgress parse(JsonNode root) {
        return new TaskProgress(
                root.path("active").asBoolean(false),
                root.path("queued").asBoolean(false),
                root.path("completed").asBoolean(false),
                number(root.get("progress")),
                number(root.get("eta")),
                root.get("live_preview") != null && root.get("live_preview").isString()
                        ? root.get("live_preview").asString()
                        : null,
                root.path("id_live_preview").asInt(-1));
    }

    private static Double number(JsonNode node) {
        return node == null || !node.isNumber() ? null : node.asDouble();
    }
}
