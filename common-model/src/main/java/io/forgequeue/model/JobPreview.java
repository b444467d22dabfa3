package io.forgequeue.model;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.time.Instant;
import java.util.Arrays;
import java.util.Objects;
import java.util.UUID;

/**
 * A live preview of a running job (worker to relay queues with {@link Topology#PREVIEW_ROUTING_KEY}).
 * Never persisted: it goes only to WebSocket clients watching the job. In JSON, {@code data} is base64.
 *
 * @param step     sampling step the preview shows
 * @param steps    total sampling steps
 * @param mimeType image type of {@code data}
 * @param data     small encoded image; never null
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record JobPreview(
        UUID jobId,
        int attempt,
        String workerId,
        Instant occurredAt,
        int step,
        int steps,
        String mimeType,
        byte[] data) {

    /** Largest preview the worker forwards, in bytes; larger ones are dropped. */
    public static final int MAX_BYTES = 256 * 1024;

    public JobPreview {
        Objects.requireNonNull(jobId, "jobId");
        Objects.requireNonNull(workerId, "workerId");
        Objects.requireNonNull(occurredAt, "occurredAt");
        Objects.requireNonNull(mimeType, "mimeType");
        Objects.requireNonNull(data, "data");
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof JobPreview other
                && jobId.equals(other.jobId)
                && attempt == other.attempt
                && workerId.equals(other.workerId)
                && occurredAt.equals(other.occurredAt)
                && step == other.step
                && steps == other.steps
                && mimeType.equals(other.mimeType)
                && Arrays.equals(data, other.data);
    }

    @Override
    public int hashCode() {
        return Objects.hash(jobId, attempt, workerId, occurredAt, step, steps, mimeType, Arrays.hashCode(data));
    }

    @Override
    public String toString() {
        return "JobPreview[jobId=" + jobId + ", attempt=" + attempt + ", step=" + step + "/" + steps + ", "
                + data.length + " bytes]";
    }
}
