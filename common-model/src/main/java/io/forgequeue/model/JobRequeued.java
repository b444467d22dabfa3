package io.forgequeue.model;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.time.Instant;
import java.util.UUID;

/**
 * The worker gave the job back to the queue without running it to the end ({@link EventType#REQUEUED}):
 * its Forge is unhealthy (breaker open) or it is shutting down. Another attempt follows.
 *
 * @param reason short explanation for operators and users, e.g. {@code image server unavailable}; may be null
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record JobRequeued(UUID jobId, int attempt, String workerId, long seq, Instant occurredAt, String reason)
        implements JobEvent {

    public JobRequeued {
        EventChecks.header(jobId, attempt, workerId, seq, occurredAt);
    }

    @Override
    public EventType type() {
        return EventType.REQUEUED;
    }
}
