package io.forgequeue.model;

import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;

/** Checks shared by the compact constructors of the event records. */
final class EventChecks {

    private EventChecks() {}

    static void header(UUID jobId, int attempt, String workerId, long seq, Instant occurredAt) {
        Objects.requireNonNull(jobId, "jobId");
        Objects.requireNonNull(workerId, "workerId");
        Objects.requireNonNull(occurredAt, "occurredAt");
        if (attempt < 1) {
            throw new IllegalArgumentException("attempt must be at least 1: " + attempt);
        }
        if (seq < 1) {
            throw new IllegalArgumentException("seq must be at least 1: " + seq);
        }
    }

    /** An unmodifiable copy that keeps insertion order and tolerates null values (Forge's info has some). */
    static Map<String, Object> copy(Map<String, Object> metadata) {
        return metadata == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
    }
}
