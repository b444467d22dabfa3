package io.forgequeue.model;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;

import java.time.Instant;
import java.util.Objects;
import java.util.UUID;

/**
 * A job handed to the workers of a pool (gateway to job queue). Persistent, published only after the job's
 * row has committed (transactional outbox). The attempt number is not in the body: the worker derives it
 * from the broker's {@link Topology#DELIVERY_COUNT_HEADER} ({@link #attemptOf(Number)}).
 *
 * @param jobId       the job's id; never null
 * @param ticket      the job's place in line, unique and increasing across all gateways
 * @param pool        the pool (group of workers) that runs it; never null
 * @param spec        what to generate; never null (but may break its limits, see {@link JobSpec#violations()})
 * @param submittedAt when the gateway accepted the job; never null
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record JobMessage(UUID jobId, long ticket, String pool, JobSpec spec, Instant submittedAt) {

    public JobMessage {
        Objects.requireNonNull(jobId, "jobId");
        Objects.requireNonNull(pool, "pool");
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(submittedAt, "submittedAt");
    }

    /**
     * The attempt number of a delivery: 1 for the first, 2 after one earlier delivery, and so on.
     *
     * @param deliveryCount the value of {@link Topology#DELIVERY_COUNT_HEADER}, or null on a first delivery
     */
    public static int attemptOf(Number deliveryCount) {
        return deliveryCount == null ? 1 : Math.max(0, deliveryCount.intValue()) + 1;
    }
}
