package io.forgequeue.model;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.time.Instant;
import java.util.UUID;

/**
 * The worker stopped (or skipped) the job because its owner cancelled it ({@link EventType#CANCELLED}).
 * Partial images from an interrupted Forge call are discarded.
 *
 * @param reason short explanation, e.g. {@code interrupted while running} or {@code skipped before start}; may be null
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record JobCancelled(UUID jobId, int attempt, String workerId, long seq, Instant occurredAt, String reason)
        implements JobEvent {

    public JobCancelled {
        EventChecks.header(jobId, attempt, workerId, seq, occurredAt);
    }

    @Override
    public EventType type() {
        return EventType.CANCELLED;
    }
}
