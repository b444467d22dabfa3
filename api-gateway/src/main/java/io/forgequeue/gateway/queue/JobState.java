package io.forgequeue.gateway.queue;

import io.forgequeue.model.JobStatus;
import java.util.UUID;

/**
 * What the queue index needs to know of one job, as PostgreSQL's {@code fq_queue} notification (or a reload, or the
 * scheduler right after its own change) reports it. Times are epoch milliseconds (PostgreSQL's clock), 0 when
 * unset.
 *
 * @param version        the row's version: a state older than the one the index has is ignored
 * @param assignedWorker the worker the current attempt is assigned to, or null
 * @param attempt        the number of the current assignment
 * @param cost           the job's size in standard images (512x512, 20 steps); seconds = cost x the pool's measured
 *                       seconds per standard image
 */
public record JobState(
        UUID id,
        long version,
        JobStatus status,
        String pool,
        UUID owner,
        int priority,
        double tag,
        long ticket,
        String checkpoint,
        String sampler,
        double cost,
        long queuedAtMillis,
        String assignedWorker,
        int attempt,
        long assignedAtMillis,
        long startedAtMillis) {

    /** Waiting for a hand-out: QUEUED and not assigned. */
    boolean waiting() {
        return status == JobStatus.QUEUED && assignedWorker == null;
    }

    /** Holding a GPU slot: assigned (QUEUED, not started yet, or RUNNING). */
    boolean held() {
        return assignedWorker != null && !status.isTerminal();
    }
}
