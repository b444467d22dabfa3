package io.forgequeue.gateway.job;

import io.forgequeue.model.CancelJobCommand;

/**
 * Spring application event: a cancel's outbox entry claimed by this instance has committed; publish it now (the
 * outbox relay's low-latency path).
 *
 * @param outboxId the entry's id
 * @param cancel   the cancel command to publish to the control exchange
 */
public record DispatchRequested(long outboxId, CancelJobCommand cancel) {}
