package io.forgequeue.worker.cancel;

import io.forgequeue.model.CancelJobCommand;
import io.forgequeue.worker.system.WireJson;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;
import org.springframework.amqp.AmqpRejectAndDontRequeueException;
import org.springframework.amqp.core.Message;
import org.springframework.amqp.rabbit.annotation.RabbitListener;
import org.springframework.stereotype.Component;

/** Reads {@link CancelJobCommand}s from this worker's own control queue (bound to the control fanout). */
@Component
class CancelListener {

    private static final Logger log = LoggerFactory.getLogger(CancelListener.class);

    private final CancelledJobs cancelledJobs;
    private final WireJson json;

    CancelListener(CancelledJobs cancelledJobs, WireJson json) {
        this.cancelledJobs = cancelledJobs;
        this.json = json;
    }

    @RabbitListener(id = "control", queues = "#{@controlQueue.name}")
    void onCommand(Message message) {
        CancelJobCommand command;
        try {
            command = json.mapper().readValue(message.getBody(), CancelJobCommand.class);
        } catch (RuntimeException e) {
            log.warn("Unreadable control message dropped ({})", e.getClass().getSimpleName());
            throw new AmqpRejectAndDontRequeueException("unreadable control message", e);
        }
        MDC.put("jobId", command.jobId().toString());
        try {
            log.info("Job(id={}) cancel requested", command.jobId());
            cancelledJobs.cancel(command.jobId());
        } finally {
            MDC.remove("jobId");
        }
    }
}
