package io.forgequeue.gateway.job;

import io.forgequeue.gateway.queue.JobState;
import io.forgequeue.model.JobSpec;
import io.forgequeue.model.JobStatus;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * One row of the {@code job} table, as read. Never leaves the gateway: the API shows {@link JobView}.
 *
 * @param attempt  the number of the job's current assignment (hand-outs so far), 0 before the first
 * @param lastSeq  sequence number of the last applied event within {@code attempt}
 * @param version  increases by one with every change of the row
 * @param priority          effective priority level (0 high, 1 normal, 2 low; a low job that waited long is 1)
 * @param requestedPriority the level its owner asked for
 * @param fairTag           its start tag in the fair-share order of its pool
 * @param cost              its size in standard images (one 512x512 image at 20 steps)
 * @param assignedWorker    the worker its current attempt is assigned to, or null
 * @param assignedAt        when that assignment was made, or null
 * @param queuedAt          when it last entered the queue
 * @param hiddenAt          when its owner hid it from the history, or null
 * @param dataErasedAt      when its prompts, images and prompt-bearing metadata were erased (its owner asked, or the
 *                          retention time passed); null while it holds them. An erased job is a tombstone: see
 *                          {@link JobErasure}
 * @param dataErasedBy      {@code owner} or {@code retention} when erased, else null
 */
public record JobRow(
        UUID id,
        UUID ownerKeyId,
        String pool,
        long ticket,
        JobSpec spec,
        JobStatus status,
        int progress,
        int attempt,
        long lastSeq,
        String workerId,
        String errorCode,
        String errorMessage,
        Map<String, Object> metadata,
        List<ImageInfo> images,
        Instant cancelRequestedAt,
        Instant createdAt,
        Instant startedAt,
        Instant finishedAt,
        Instant lastEventAt,
        long version,
        int priority,
        int requestedPriority,
        double fairTag,
        double cost,
        String assignedWorker,
        Instant assignedAt,
        Instant queuedAt,
        Instant hiddenAt,
        Instant dataErasedAt,
        String dataErasedBy) {

    public JobRow {
        metadata = metadata == null ? Map.of() : metadata;
        images = images == null ? List.of() : List.copyOf(images);
    }

    /** A row that is shown in the history and whose data were not erased. */
    public JobRow(
            UUID id,
            UUID ownerKeyId,
            String pool,
            long ticket,
            JobSpec spec,
            JobStatus status,
            int progress,
            int attempt,
            long lastSeq,
            String workerId,
            String errorCode,
            String errorMessage,
            Map<String, Object> metadata,
            List<ImageInfo> images,
            Instant cancelRequestedAt,
            Instant createdAt,
            Instant startedAt,
            Instant finishedAt,
            Instant lastEventAt,
            long version,
            int priority,
            int requestedPriority,
            double fairTag,
            double cost,
            String assignedWorker,
            Instant assignedAt,
            Instant queuedAt) {
        this(
                id,
                ownerKeyId,
                pool,
                ticket,
                spec,
                status,
                progress,
                attempt,
                lastSeq,
                workerId,
                errorCode,
                errorMessage,
                metadata,
                images,
                cancelRequestedAt,
                createdAt,
                startedAt,
                finishedAt,
                lastEventAt,
                version,
                priority,
                requestedPriority,
                fairTag,
                cost,
                assignedWorker,
                assignedAt,
                queuedAt,
                null,
                null,
                null);
    }

    /** What the queue index keeps of this row. */
    public JobState toQueueState() {
        return new JobState(
                id,
                version,
                status,
                pool,
                ownerKeyId,
                priority,
                fairTag,
                ticket,
                spec.checkpoint(),
                spec.sampler(),
                cost,
                millis(queuedAt),
                assignedWorker,
                attempt,
                millis(assignedAt),
                millis(startedAt));
    }

    private static long millis(Instant t) {
        return t == null ? 0 : t.toEpochMilli();
    }
}
