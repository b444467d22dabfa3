package io.forgequeue.model;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;

/**
 * The job finished without images ({@link EventType#FAILED}).
 *
 * @param code      stable error code; never null
 * @param message   what happened, for a person (no stack traces); never null
 * @param retryable whether submitting the same job again may succeed
 * @param metadata  technical details worth keeping for operators (e.g. Forge's error class); clients do not see
 *                  them (the gateway shows only the keys it allows); never null
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record JobFailed(
        UUID jobId,
        int attempt,
        String workerId,
        long seq,
        Instant occurredAt,
        ErrorCode code,
        String message,
        boolean retryable,
        Map<String, Object> metadata)
        implements JobEvent {

    public JobFailed {
        EventChecks.header(jobId, attempt, workerId, seq, occurredAt);
        code = code == null ? ErrorCode.UNKNOWN : code;
        message = message == null || message.isBlank() ? code.defaultMessage() : message;
        metadata = EventChecks.copy(metadata);
    }

    /** A failure with the code's default message and retryability. */
    public static JobFailed of(UUID jobId, int attempt, String workerId, long seq, Instant at, ErrorCode code) {
        Objects.requireNonNull(code, "code");
        return new JobFailed(
                jobId, attempt, workerId, seq, at, code, code.defaultMessage(), code.retryable(), Map.of());
    }

    @Override
    public EventType type() {
        return EventType.FAILED;
    }
}
