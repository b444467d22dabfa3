package io.forgequeue.gateway.relay;

import io.forgequeue.gateway.job.JobView;
import io.forgequeue.gateway.queue.Eta;
import io.forgequeue.gateway.queue.QueueIndex;
import io.forgequeue.gateway.queue.QueueStats;
import io.forgequeue.gateway.queue.QueueView;
import io.forgequeue.model.JobPreview;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import org.springframework.stereotype.Component;
import tools.jackson.databind.json.JsonMapper;

/** Encodes the server-to-client frames of the WebSocket protocol (PROTOCOL.md) with the API's JSON mapper. */
@Component
class Frames {

    private final JsonMapper json;
    private final QueueStats queue;

    Frames(JsonMapper json, QueueStats queue) {
        this.json = json;
        this.queue = queue;
    }

    String authenticated(String keyName) {
        return encode(frame("authenticated").with("keyName", keyName));
    }

    String snapshot(JobView job) {
        return encode(frame("snapshot").with("job", job));
    }

    String update(JobView job) {
        return encode(frame("update").with("job", job));
    }

    String subscribed(UUID jobId, long version, boolean unchanged) {
        return encode(frame("subscribed")
                .with("jobId", jobId)
                .with("version", version)
                .with("unchanged", unchanged));
    }

    String subscribedAll(int jobs) {
        return encode(frame("subscribed").with("scope", "all").with("jobs", jobs));
    }

    String unsubscribed(UUID jobId) {
        return encode(
                jobId == null
                        ? frame("unsubscribed").with("scope", "all")
                        : frame("unsubscribed").with("jobId", jobId));
    }

    String unsubscribedQueue() {
        return encode(frame("unsubscribed").with("scope", "queue"));
    }

    /** A new place in the queue: position, ETA and what the job waits for (PROTOCOL.md). */
    String position(
            UUID jobId, String pool, String checkpoint, QueueIndex.Standing standing, String blocked, long version) {
        Eta eta = blocked == null ? queue.etaFor(pool, standing, checkpoint) : null;
        return encode(frame("position")
                .with("jobId", jobId)
                .with("position", standing.position())
                .with("eta", eta)
                .with(
                        "waiting",
                        new JobView.WaitingView(
                                standing.ahead(), standing.ownAhead(), standing.assigned(), blocked, null))
                .with("version", version));
    }

    /** The queue overview as the key sees it: the body of GET /api/v1/queue without its time (PROTOCOL.md). */
    String queue(QueueView view) {
        return encode(frame("queue").with("queue", view.withoutTime()));
    }

    String subscribedQueue() {
        return encode(frame("subscribed").with("scope", "queue"));
    }

    String preview(JobPreview preview) {
        return encode(frame("preview")
                .with("jobId", preview.jobId())
                .with("attempt", preview.attempt())
                .with("step", preview.step())
                .with("steps", preview.steps())
                .with("mimeType", preview.mimeType())
                .with("data", preview.data()));
    }

    String error(String code, String message, UUID jobId) {
        return encode(frame("error").with("code", code).with("message", message).with("jobId", jobId));
    }

    String pong() {
        return encode(frame("pong"));
    }

    private String encode(Map<String, Object> frame) {
        return json.writeValueAsString(frame);
    }

    private static FrameMap frame(String type) {
        FrameMap map = new FrameMap();
        map.put("type", type);
        return map;
    }

    /** Ordered frame members; null values are left out. */
    private static final class FrameMap extends LinkedHashMap<String, Object> {
        FrameMap with(String key, Object value) {
            if (value != null) {
                put(key, value);
            }
            return this;
        }
    }
}
