package io.forgequeue.model;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.time.Instant;
import java.util.Objects;
import java.util.UUID;

/**
 * A job handed to one worker by the scheduler (gateway to the worker's own queue, {@link Topology#workerQueue}).
 * Persistent and mandatory; published right after the assignment committed in the job's row.
 *
 * <p>{@code (jobId, attempt, workerId)} is the <em>assignment</em>: every event the worker sends about this job
 * carries the same attempt, and the gateway merges only events of the job's current assignment. An assignment
 * can be revoked (the worker was lost, paused or went away); the job is then handed out again with a higher
 * attempt, and whatever the old assignment still reports is ignored.
 *
 * @param jobId       the job's id; never null
 * @param attempt     the assignment number, from 1 (one more for every hand-out of this job)
 * @param workerId    the worker the job is assigned to; never null
 * @param ticket      the job's place in line at submission, unique and increasing across all gateways
 * @param pool        the pool (group of workers) that runs it; never null
 * @param spec        what to generate; never null (but may break its limits, see {@link JobSpec#violations()})
 * @param submittedAt when the gateway accepted the job; never null
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record JobMessage(
        UUID jobId, int attempt, String workerId, long ticket, String pool, JobSpec spec, Instant submittedAt) {

    public JobMessage {
        Objects.requireNonNull(jobId, "jobId");
        Objects.requireNonNull(workerId, "workerId");
        Objects.requireNonNull(pool, "pool");
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(submittedAt, "submittedAt");
        if (attempt < 1) {
            throw new IllegalArgumentException("attempt must be at least 1, was " + attempt);
        }
    }
}
