package io.forgequeue.model;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.time.Instant;
import java.util.UUID;

/** The worker is still running the job ({@link EventType#HEARTBEAT}); sent every few seconds. */
@JsonIgnoreProperties(ignoreUnknown = true)
public record JobHeartbeat(UUID jobId, int attempt, String workerId, long seq, Instant occurredAt) implements JobEvent {

    public JobHeartbeat {
        EventChecks.header(jobId, attempt, workerId, seq, occurredAt);
    }

    @Override
    public EventType type() {
        return EventType.HEARTBEAT;
    }
}
