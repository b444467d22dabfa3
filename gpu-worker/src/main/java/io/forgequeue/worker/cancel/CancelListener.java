package io.forgequeue.worker.cancel;

import io.forgequeue.model.CancelJobCommand;
import io.forgequeue.worker.system.WireJson;
import io.forgequeue.worker.system.WorkerProperties;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;
import org.springframework.amqp.AmqpRejectAndDontRequeueException;
import org.springframework.amqp.core.Message;
import org.springframework.amqp.rabbit.annotation.RabbitListener;
import org.springframework.stereotype.Component;

/**
 * Reads {@link CancelJobCommand}s from this worker's own control queue (bound to the control fanout): an owner's
 * cancel (every attempt) or a stop of one attempt meant for one worker; a stop meant for another worker is ignored.
 */
@Component
class CancelListener {

    private static final Logger log = LoggerFactory.getLogger(CancelListener.class);

    private final CancelledJobs cancelledJobs;
    private final WireJson json;
    private final String workerId;

    CancelListener(CancelledJobs cancelledJobs, WireJson json, WorkerProperties worker) {
        this.cancelledJobs = cancelledJobs;
        this.json = json;
        this.workerId = worker.id();
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
        if (command.workerId() != null && !command.workerId().equals(workerId)) {
            return; // a stop for another worker's attempt
        }
        MDC.put("jobId", command.jobId().toString());
        try {
            if (command.isOwnersCancel()) {
                log.info("Job(id={}) cancel requested", command.jobId());
                cancelledJobs.cancel(command.jobId());
            } else {
                log.info(
                        "Job(id={}) attempt {} is no longer this worker's: stop it",
                        command.jobId(),
                        command.attempt());
                cancelledJobs.stopAttempt(command.jobId(), command.attempt());
            }
        } finally {
            MDC.remove("jobId");
        }
    }
}
