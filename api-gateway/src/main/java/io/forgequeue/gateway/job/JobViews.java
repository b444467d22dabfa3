package io.forgequeue.gateway.job;

import io.forgequeue.gateway.queue.QueueStats;
import io.forgequeue.model.ErrorCode;
import io.forgequeue.model.JobStatus;
import org.springframework.stereotype.Component;

import java.util.List;

/** Maps {@link JobRow}s to {@link JobView}s (image links, error, ETA from the latest queue snapshot). */
@Component
public class JobViews {

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
                row.attempt(), row.workerId(), error, images, JobView.SpecView.of(row.spec()),
                row.metadata().isEmpty() ? null : row.metadata(), row.cancelRequestedAt() != null, row.createdAt(),
                row.startedAt(), row.finishedAt(), row.version());
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
