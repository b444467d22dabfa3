package io.forgequeue.model;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;

/**
 * A worker took the job and is about to call Forge ({@link EventType#RUNNING}).
 *
 * @param metadata facts worth keeping with the job for operators (e.g. {@code pool}, {@code workerVersion});
 *                 deep-merged into the job's metadata, which clients see only in part (the gateway shows the keys
 *                 it allows); never null
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record JobStarted(
        UUID jobId, int attempt, String workerId, long seq, Instant occurredAt, Map<String, Object> metadata)
        implements JobEvent {

    public JobStarted {
        EventChecks.header(jobId, attempt, workerId, seq, occurredAt);
        metadata = EventChecks.copy(metadata);
    }

    @Override
    public EventType type() {
        return EventType.RUNNING;
    }
}
