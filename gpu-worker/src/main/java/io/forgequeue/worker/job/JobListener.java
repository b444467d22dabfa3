package io.forgequeue.worker.job;

import com.rabbitmq.client.Channel;
import io.forgequeue.model.JobMessage;
import io.forgequeue.model.WorkerStatus;
import io.forgequeue.worker.system.WireJson;
import io.forgequeue.worker.system.WorkerMetrics;
import io.forgequeue.worker.system.WorkerProperties;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;
import org.springframework.amqp.AmqpException;
import org.springframework.amqp.AmqpRejectAndDontRequeueException;
import org.springframework.amqp.ImmediateAcknowledgeAmqpException;
import org.springframework.amqp.core.Message;
import org.springframework.amqp.rabbit.annotation.RabbitListener;
import org.springframework.stereotype.Component;

/**
 * Consumes this worker's own job queue ({@code forge.jobs.worker.<id>}, fed only by the scheduler): prefetch 1, one
 * job at a time per process; the one message waiting behind it is the scheduler's lookahead.
 *
 * <p><b>Acknowledgement: AUTO, on purpose.</b> The whole job runs on this listener thread, and the method returns
 * only after the broker has confirmed the job's outcome event; the container acks when the method returns. The job
 * row in PostgreSQL is the truth, not this message: a worker killed at any moment loses its queue with its
 * connection, and the scheduler, no longer hearing from it, hands its jobs to others. So a job given back (REQUEUED
 * confirmed: Forge unavailable, shutting down) is acked too, and the scheduler assigns it again (possibly to this
 * worker). {@link AmqpRejectAndDontRequeueException} = nack without requeue, so the queue dead-letters the message
 * (poison). An outcome event still not confirmed after being sent again for {@code worker.outcome.retry-for}
 * ({@link EventStream#finish}) drops the message: requeueing it to this worker's own queue would only run it again
 * here; the scheduler sees that this worker no longer holds the job and hands it out again.
 */
@Component
class JobListener {

    private static final Logger log = LoggerFactory.getLogger(JobListener.class);

    private final JobRunner runner;
    private final ConsumptionControl consumption;
    private final WireJson json;
    private final WorkerMetrics metrics;
    private final Holding holding;
    private final String workerId;

    JobListener(
            JobRunner runner,
            ConsumptionControl consumption,
            WireJson json,
            WorkerMetrics metrics,
            Holding holding,
            WorkerProperties worker) {
        this.runner = runner;
        this.consumption = consumption;
        this.json = json;
        this.metrics = metrics;
        this.holding = holding;
        this.workerId = worker.id();
    }

    @RabbitListener(id = ConsumptionControl.JOBS_CONTAINER, queues = "#{@jobQueue.name}")
    void onJob(Message message, Channel channel) {
        long deliveredNanos = System.nanoTime();
        metrics.jobHandlingStarted();
        try {
            JobMessage job = parse(message);
            MDC.put("jobId", job.jobId().toString());
            if (!workerId.equals(job.workerId())) {
                log.warn(
                        "Job(id={}) message assigned to worker {} arrived at {}: dead-lettered",
                        job.jobId(),
                        job.workerId(),
                        workerId);
                metrics.jobFinished("rejected", null);
                throw new AmqpRejectAndDontRequeueException("job " + job.jobId() + " is not assigned to this worker");
            }
            holding.taken(new WorkerStatus.Assignment(job.jobId(), job.attempt()));
            Disposition disposition;
            try {
                disposition = runner.run(job, deliveredNanos);
            } catch (AmqpException e) {
                log.error(
                        "Job(id={}) attempt {}: its outcome could not be handed to the broker ({}); dropping the "
                                + "message, the scheduler will hand the job out again",
                        job.jobId(),
                        job.attempt(),
                        e.getMessage());
                throw new ImmediateAcknowledgeAmqpException("outcome of job " + job.jobId() + " not confirmed");
            }
            switch (disposition) {
                case ACK, REQUEUE -> {}
                case DEAD_LETTER ->
                    throw new AmqpRejectAndDontRequeueException("job " + job.jobId() + " has an impossible spec");
                case REQUEUE_AND_PAUSE -> {
                    // no more deliveries (the lookahead behind this job) until Forge answers again
                    stopOwnConsumer(message, channel);
                    consumption.pauseUntilForgeAnswers();
                }
            }
        } finally {
            holding.released();
            MDC.remove("jobId");
            metrics.jobHandlingEnded();
        }
    }

    private JobMessage parse(Message message) {
        try {
            JobMessage job = json.mapper().readValue(message.getBody(), JobMessage.class);
            if (job == null) {
                throw new IllegalArgumentException("empty body");
            }
            return job;
        } catch (RuntimeException e) {
            // The cause's message may quote the payload: log only its type.
            log.warn(
                    "Unreadable job message (messageId={}, {} bytes, {}): dead-lettered",
                    message.getMessageProperties().getMessageId(),
                    message.getBody().length,
                    e.getClass().getSimpleName());
            metrics.jobFinished("rejected", null);
            throw new AmqpRejectAndDontRequeueException("unreadable job message");
        }
    }

    /**
     * Cancels this consumer before the job is acked, so the broker does not deliver the lookahead job behind it to a
     * worker whose Forge is down while the container is being stopped.
     */
    private static void stopOwnConsumer(Message message, Channel channel) {
        String tag = message.getMessageProperties().getConsumerTag();
        if (tag == null) {
            return;
        }
        try {
            channel.basicCancel(tag);
        } catch (IOException | RuntimeException e) {
            log.warn("Could not cancel the job consumer before giving the job back: {}", e.toString());
        }
    }
}
