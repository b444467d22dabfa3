package io.forgequeue.gateway.job;

import io.forgequeue.model.JobSpec;
import io.forgequeue.model.JobStatus;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * One row of the {@code job} table, as read. Never leaves the gateway: the API shows {@link JobView}.
 *
 * @param attempt  attempt of the last applied event, 0 before any
 * @param lastSeq  sequence number of the last applied event within {@code attempt}
 * @param version  increases by one with every change of the row
 */
public record JobRow(UUID id, UUID ownerKeyId, String pool, long ticket, JobSpec spec, JobStatus status,
                     int progress, int attempt, long lastSeq, String workerId, String errorCode,
                     String errorMessage, Map<String, Object> metadata, List<ImageInfo> images,
                     Instant cancelRequestedAt, Instant createdAt, Instant startedAt, Instant finishedAt,
                     Instant lastEventAt, long version) {

    public JobRow {
        metadata = metadata == null ? Map.of() : metadata;
        images = images == null ? List.of() : List.copyOf(images);
    }
}
