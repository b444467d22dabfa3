package io.forgequeue.worker.job;

import com.rabbitmq.client.Channel;
import io.forgequeue.model.JobMessage;
import io.forgequeue.model.Topology;
import io.forgequeue.worker.system.WireJson;
import io.forgequeue.worker.system.WorkerMetrics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;
import org.springframework.amqp.AmqpRejectAndDontRequeueException;
import org.springframework.amqp.ImmediateRequeueAmqpException;
import org.springframework.amqp.core.Message;
import org.springframework.amqp.rabbit.annotation.RabbitListener;
import org.springframework.stereotype.Component;

import java.io.IOException;

/**
 * Consumes the job queue of this worker's pool: prefetch 1, one job at a time per process.
 *
 * <p><b>Acknowledgement: AUTO, on purpose.</b> The whole job runs on this listener thread, and the method returns
 * only after the broker has confirmed the job's outcome event; the container acks when the method returns. So a
 * worker killed at any moment before that (even between the confirm and the ack) has not acked, its channel
 * closes and the broker delivers the job again. MANUAL ack would only be needed if the work finished on another
 * thread. The other dispositions are exceptions the container understands:
 * {@link ImmediateRequeueAmqpException} = nack with requeue (job given back after a confirmed REQUEUED event),
 * {@link AmqpRejectAndDontRequeueException} = nack without requeue, so the queue dead-letters the message (poison).
 * Any other exception (the outcome event was still not confirmed after being sent again for
 * {@code worker.outcome.retry-for}, see {@link EventStream#finish}) also requeues: the job is not lost, and the
 * pauses between those sends keep a broker that refuses events from turning the job into a tight re-run loop.
 */
@Component
class JobListener {

    private static final Logger log = LoggerFactory.getLogger(JobListener.class);

    private final JobRunner runner;
    private final ConsumptionControl consumption;
    private final WireJson json;
    private final WorkerMetrics metrics;

    JobListener(JobRunner runner, ConsumptionControl consumption, WireJson json, WorkerMetrics metrics) {
        this.runner = runner;
        this.consumption = consumption;
        this.json = json;
        this.metrics = metrics;
    }

    @RabbitListener(id = ConsumptionControl.JOBS_CONTAINER, queues = "#{@jobQueue.name}")
    void onJob(Message message, Channel channel) {
        long deliveredNanos = System.nanoTime();
        metrics.jobHandlingStarted();
        try {
            JobMessage job = parse(message);
            MDC.put("jobId", job.jobId().toString());
            Object deliveryCount = message.getMessageProperties().getHeader(Topology.DELIVERY_COUNT_HEADER);
            int attempt = JobMessage.attemptOf(deliveryCount instanceof Number n ? n : null);
            Disposition disposition = runner.run(job, attempt, deliveredNanos);
            switch (disposition) {
                case ACK -> {
                }
                case DEAD_LETTER -> throw new AmqpRejectAndDontRequeueException("job " + job.jobId()
                        + " has an impossible spec");
                case REQUEUE -> throw new ImmediateRequeueAmqpException("job " + job.jobId() + " given back");
                case REQUEUE_AND_PAUSE -> {
                    stopOwnConsumer(message, channel);
                    consumption.pauseUntilForgeAnswers();
                    throw new ImmediateRequeueAmqpException("job " + job.jobId()
                            + " given back: Forge is unavailable");
                }
            }
        } finally {
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
            log.warn("Unreadable job message (messageId={}, {} bytes, {}): dead-lettered",
                    message.getMessageProperties().getMessageId(), message.getBody().length,
                    e.getClass().getSimpleName());
            metrics.jobFinished("rejected", null);
            throw new AmqpRejectAndDontRequeueException("unreadable job message");
        }
    }

    /**
     * Cancels this consumer before the job is requeued, so the broker hands the job to another worker instead of
     * straight back to this one (and this worker takes no other job) while the container is being stopped.
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
