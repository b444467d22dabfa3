package io.forgequeue.gateway.job;

import io.forgequeue.model.CancelJobCommand;
import io.forgequeue.model.JobMessage;

/**
 * Spring application event: an outbox entry claimed by this instance has committed; publish it now (the outbox
 * relay's low-latency path). Exactly one of {@code job} and {@code cancel} is set.
 *
 * @param outboxId the entry's id
 * @param job      the job message to publish to the pool's queue
 * @param cancel   the cancel command to publish to the control exchange
 */
public record DispatchRequested(long outboxId, JobMessage job, CancelJobCommand cancel) {
}
