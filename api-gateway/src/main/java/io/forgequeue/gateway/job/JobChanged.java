package io.forgequeue.gateway.job;

import io.forgequeue.model.JobStatus;

/**
 * Spring application event: a job row changed and the change is committed (submitted, merged event, cancel,
 * stuck sweep, dispatch failure). The relay publishes it to every gateway's WebSocket clients.
 *
 * @param row            the row after the change
 * @param previousStatus the status before, or null for a new job
 * @param position       the job's queue position when known at the time of the change, else null
 */
public record JobChanged(JobRow row, JobStatus previousStatus, Integer position) {

    /** Whether this change moved the queue of the job's pool (a job left or re-entered QUEUED). */
    public boolean queueMoved() {
        return previousStatus != null && (previousStatus == JobStatus.QUEUED) != (row.status() == JobStatus.QUEUED);
    }
}
