package io.forgequeue.model;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.time.Instant;
import java.util.UUID;

/**
 * Sampling progress of a running job ({@link EventType#PROGRESS}), throttled by the worker. Progress
 * values are Forge's hints; the gateway never lets a job's progress go backwards.
 *
 * @param step       current sampling step over the whole job (all batches), from 0
 * @param steps      total sampling steps of the job, at least 1
 * @param percent    0 to 100
 * @param etaSeconds estimated seconds to completion, or null while no estimate is reliable
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record JobProgressed(
        UUID jobId,
        int attempt,
        String workerId,
        long seq,
        Instant occurredAt,
        int step,
        int steps,
        int percent,
        Double etaSeconds)
        implements JobEvent {

    public JobProgressed {
        EventChecks.header(jobId, attempt, workerId, seq, occurredAt);
        if (percent < 0 || percent > 100) {
            throw new IllegalArgumentException("percent must be 0-100: " + percent);
        }
    }

    @Override
    public EventType type() {
        return EventType.PROGRESS;
    }
}
