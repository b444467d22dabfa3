package io.forgequeue.gateway.job;

import java.util.UUID;

/**
 * A worker started an attempt of a job that had already ended (its outcome was stored, it was cancelled while
 * queued, or the stuck-job sweep failed it) while the job's message was still out: a redelivery after a broker or
 * connection failure took the ack with it, or the message of a swept job came back from a frozen worker. Nobody
 * will see that run's result, so the GPU time is wasted: the workers are asked to stop it (a cancel command).
 *
 * @param jobId    the job
 * @param attempt  the attempt the worker started
 * @param workerId the worker running it
 */
public record RedundantAttempt(UUID jobId, int attempt, String workerId) {}
