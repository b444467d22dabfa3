package io.forgequeue.model;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.time.Instant;
import java.util.Objects;
import java.util.UUID;

/**
 * Stop a job (gateway to every worker, through {@link Topology#CONTROL_EXCHANGE}). A worker running the job
 * interrupts Forge and reports {@link JobCancelled}; a worker that receives the job later skips it.
 *
 * <p>Without {@code attempt} the command is its owner's cancel: it stops every attempt anywhere. With
 * {@code attempt} (and {@code workerId}) it stops only that assignment, e.g. one that was revoked while its
 * worker was frozen: the worker that runs the job now is not disturbed.
 *
 * @param jobId       the job to stop; never null
 * @param requestedAt when the stop was asked for; never null
 * @param attempt     the only attempt to stop, or null for every attempt
 * @param workerId    the only worker that should act on it, or null for every worker
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record CancelJobCommand(UUID jobId, Instant requestedAt, Integer attempt, String workerId) {

    public CancelJobCommand {
        Objects.requireNonNull(jobId, "jobId");
        Objects.requireNonNull(requestedAt, "requestedAt");
    }

    /** The owner's cancel: every attempt, every worker. */
    public CancelJobCommand(UUID jobId, Instant requestedAt) {
        this(jobId, requestedAt, null, null);
    }

    /** Whether this command stops {@code attempt} of the job on worker {@code worker}. */
    public boolean stops(int attemptNumber, String worker) {
        return (attempt == null || attempt == attemptNumber) && (workerId == null || workerId.equals(worker));
    }

    /** Whether it is meant for every attempt (its owner's cancel) rather than one assignment. */
    public boolean isOwnersCancel() {
        return attempt == null;
    }
}
