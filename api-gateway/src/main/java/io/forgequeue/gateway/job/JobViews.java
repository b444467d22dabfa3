package io.forgequeue.gateway.job;

import io.forgequeue.gateway.queue.QueueIndex;
import io.forgequeue.gateway.queue.QueueStats;
import io.forgequeue.gateway.quota.Priority;
import io.forgequeue.model.ErrorCode;
import io.forgequeue.model.JobStatus;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.springframework.stereotype.Component;

/**
 * Maps {@link JobRow}s to {@link JobView}s: image links, error, and for a queued job its standing in the
 * scheduler's plan (from the {@link QueueIndex}: no query) with the ETA. A view shows its owner what a user needs
 * and nothing about the machinery: no worker id, and of the metadata workers report only the keys of
 * {@link #PUBLIC_METADATA}, whatever a worker sends (the row keeps everything, for operators).
 */
@Component
public class JobViews {

    /**
     * The metadata keys a job's owner sees: what the generation used (seed, model, sampler, ...) and why its
     * settings were refused ({@code violations}). Not shown: Forge's URL, version and raw error text, HTTP status,
     * exception class names, timings, the worker's version, and any key a worker adds later.
     */
    public static final Set<String> PUBLIC_METADATA = Set.of(
            "seed",
            "allSeeds",
            "sdModelName",
            "sdModelHash",
            "sampler",
            "scheduler",
            "steps",
            "cfgScale",
            "width",
            "height",
            "checkpointRequested",
            "violations");

    private final QueueStats queue;
    private final QueueIndex index;

    JobViews(QueueStats queue, QueueIndex index) {
        this.queue = queue;
        this.index = index;
    }

    /** The view of {@code row}, with its current standing when it is QUEUED. */
    public JobView toView(JobRow row) {
        Integer position = null;
        JobView.WaitingView waiting = null;
        QueueIndex.Standing standing = null;
        if (row.status() == JobStatus.QUEUED) {
            standing = standing(row);
            position = standing.position();
            // attempt counts hand-outs: one that is not the current assignment was given back
            boolean returned = row.attempt() >= 2 || (row.attempt() == 1 && row.assignedWorker() == null);
            waiting = new JobView.WaitingView(
                    standing.ahead(),
                    standing.ownAhead(),
                    standing.assigned(),
                    standing.assigned()
                            ? null
                            : queue.blockedReason(row.pool(), row.spec().checkpoint()),
                    returned);
        }
        JobView.ErrorView error = null;
        if (row.status() == JobStatus.FAILED) {
            ErrorCode code = parse(row.errorCode());
            error = new JobView.ErrorView(
                    row.errorCode() == null ? ErrorCode.UNKNOWN.name() : row.errorCode(),
                    row.errorMessage() == null ? code.defaultMessage() : row.errorMessage(),
                    code.retryable());
        }
        List<JobView.ImageView> images = row.status() != JobStatus.SUCCEEDED
                ? null
                : row.images().stream()
                        .map(i -> new JobView.ImageView(
                                i.index(), imageUrl(row, i.index()), i.mimeType(), i.width(), i.height(), i.seed()))
                        .toList();
        return new JobView(
                row.id(),
                row.status(),
                row.pool(),
                row.ticket(),
                position,
                waiting != null && waiting.blocked() != null
                        ? null
                        : queue.etaFor(row.pool(), standing, row.spec().checkpoint()),
                row.progress(),
                row.attempt(),
                error,
                images,
                JobView.SpecView.of(row.spec()),
                publicMetadata(row.metadata()),
                row.cancelRequestedAt() != null,
                row.createdAt(),
                row.startedAt(),
                row.finishedAt(),
                row.version(),
                Priority.ofLevel(row.requestedPriority()),
                waiting,
                row.hiddenAt(),
                row.dataErasedAt() == null ? null : new JobView.DataErasedView(row.dataErasedAt(), row.dataErasedBy()));
    }

    /** The allowed keys of {@code metadata}, in their stored order; null when none is left. */
    private static Map<String, Object> publicMetadata(Map<String, Object> metadata) {
        Map<String, Object> shown = new LinkedHashMap<>();
        metadata.forEach((key, value) -> {
            if (PUBLIC_METADATA.contains(key)) {
                shown.put(key, value);
            }
        });
        return shown.isEmpty() ? null : shown;
    }

    /** Where a queued row stands: as the index knows it, or (not there yet: just submitted) where it would be. */
    private QueueIndex.Standing standing(JobRow row) {
        QueueIndex.Standing known = index.standing(row.id());
        if (known != null) {
            return known;
        }
        if (row.assignedWorker() != null) {
            return new QueueIndex.Standing(1, 0, true);
        }
        return index.standingOf(row.toQueueState());
    }

    static String jobUrl(UUID id) {
        return "/api/v1/jobs/" + id;
    }

    private static String imageUrl(JobRow row, int index) {
        return jobUrl(row.id()) + "/images/" + index;
    }

    private static ErrorCode parse(String code) {
        if (code == null) {
            return ErrorCode.UNKNOWN;
        }
        try {
            return ErrorCode.valueOf(code);
        } catch (IllegalArgumentException e) {
            return ErrorCode.UNKNOWN;
        }
    }
}
