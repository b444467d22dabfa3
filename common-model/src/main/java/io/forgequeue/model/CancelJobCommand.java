package io.forgequeue.model;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;

import java.time.Instant;
import java.util.Objects;
import java.util.UUID;

/**
 * Cancel a job (gateway to every worker, through {@link Topology#CONTROL_EXCHANGE}). A worker running the
 * job interrupts Forge and reports {@link JobCancelled}; a worker that receives the job later skips it.
 *
 * @param jobId       the job to cancel; never null
 * @param requestedAt when the owner asked; never null
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record CancelJobCommand(UUID jobId, Instant requestedAt) {

    public CancelJobCommand {
        Objects.requireNonNull(jobId, "jobId");
        Objects.requireNonNull(requestedAt, "requestedAt");
    }
}
