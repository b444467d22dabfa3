package io.forgequeue.gateway.job;

import io.forgequeue.gateway.queue.QueueStats;
import io.forgequeue.model.ErrorCode;
import io.forgequeue.model.JobStatus;
import org.springframework.stereotype.Component;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Maps {@link JobRow}s to {@link JobView}s (image links, error, ETA from the latest queue snapshot). A view shows its
 * owner what a user needs and nothing about the machinery: no worker id, and of the metadata workers report only the
 * keys of {@link #PUBLIC_METADATA}, whatever a worker sends (the row keeps everything, for operators).
 */
@Component
public class JobViews {

    /**
     * The metadata keys a job's owner sees: what the generation used (seed, model, sampler, ...) and why its
     * settings were refused ({@code violations}). Not shown: Forge's URL, version and raw error text, HTTP status,
     * exception class names, timings, the worker's version, and any key a worker adds later.
     */
    public static final Set<String> PUBLIC_METADATA = Set.of("seed", "allSeeds", "sdModelName", "sdModelHash",
            "sampler", "scheduler", "steps", "cfgScale", "width", "height", "checkpointRequested", "violations");

    private final QueueStats queue;

    JobViews(QueueStats queue) {
        this.queue = queue;
    }

    /** The view of {@code row}; {@code position} is used only while the job is QUEUED. */
    public JobView toView(JobRow row, Integer position) {
        Integer pos = row.status() == JobStatus.QUEUED ? position : null;
        JobView.ErrorView error = null;
        if (row.status() == JobStatus.FAILED) {
            ErrorCode code = parse(row.errorCode());
            error = new JobView.ErrorView(row.errorCode() == null ? ErrorCode.UNKNOWN.name() : row.errorCode(),
                    row.errorMessage() == null ? code.defaultMessage() : row.errorMessage(), code.retryable());
        }
        List<JobView.ImageView> images = row.status() != JobStatus.SUCCEEDED ? null : row.images().stream()
                .map(i -> new JobView.ImageView(i.index(), imageUrl(row, i.index()), i.mimeType(), i.width(),
                        i.height(), i.seed()))
                .toList();
        return new JobView(row.id(), row.status(), row.pool(), row.ticket(), pos, queue.etaFor(pos), row.progress(),
                row.attempt(), error, images, JobView.SpecView.of(row.spec()), publicMetadata(row.metadata()),
                row.cancelRequestedAt() != null, row.createdAt(), row.startedAt(), row.finishedAt(), row.version());
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

    static String jobUrl(java.util.UUID id) {
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
