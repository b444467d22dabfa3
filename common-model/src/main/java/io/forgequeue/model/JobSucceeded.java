package io.forgequeue.model;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * The job finished with images ({@link EventType#SUCCEEDED}). Carries the image bytes, so it travels only
 * on the persisted path ({@code job.succeeded}), never to relay queues.
 *
 * @param images   the generated images in order, at least one; never null
 * @param metadata what Forge reported (e.g. {@code seed}, {@code sdModelName}, {@code sampler},
 *                 {@code forgeMillis}; {@code loadMillis}, the part of the call the worker measured as loading a
 *                 checkpoint, only when it loaded one: the gateway leaves it out of the pool's job time for ETAs, and
 *                 reads a job without it as one that loaded nothing; {@code loadUnsplit: true} when the call may have
 *                 loaded one but the worker cannot tell how long yet (a fresh Forge's first call, before the worker
 *                 knows its speed): the gateway then counts the job's time only while the pool has no other);
 *                 deep-merged into the job's metadata; never null
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record JobSucceeded(
        UUID jobId,
        int attempt,
        String workerId,
        long seq,
        Instant occurredAt,
        List<GeneratedImage> images,
        Map<String, Object> metadata)
        implements JobEvent {

    public JobSucceeded {
        EventChecks.header(jobId, attempt, workerId, seq, occurredAt);
        images = List.copyOf(images == null ? List.of() : images);
        if (images.isEmpty()) {
            throw new IllegalArgumentException("a succeeded job has at least one image");
        }
        metadata = EventChecks.copy(metadata);
    }

    @Override
    public EventType type() {
        return EventType.SUCCEEDED;
    }
}
