package io.forgequeue.gateway.outbox;

import io.forgequeue.gateway.job.RedundantAttempt;
import io.forgequeue.gateway.system.ContractMessage;
import io.forgequeue.gateway.system.GatewayMetrics;
import io.forgequeue.gateway.system.WireJson;
import io.forgequeue.model.CancelJobCommand;
import io.forgequeue.model.Topology;
import java.time.Instant;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.amqp.AmqpException;
import org.springframework.amqp.rabbit.core.RabbitTemplate;
import org.springframework.context.event.EventListener;
import org.springframework.stereotype.Component;

/**
 * Asks a worker to stop an attempt that is no longer its own (the job ended or was handed to another worker): a
 * targeted cancel command for that attempt on that worker. Best effort, without the outbox: a lost command costs GPU
 * time, never a result, since the merge ignores whatever that attempt reports.
 */
@Component
class RedundantAttemptStopper {

    private static final Logger log = LoggerFactory.getLogger(RedundantAttemptStopper.class);

    private final RabbitTemplate controlTemplate;
    private final WireJson json;
    private final GatewayMetrics metrics;

    RedundantAttemptStopper(RabbitTemplate controlTemplate, WireJson json, GatewayMetrics metrics) {
        this.controlTemplate = controlTemplate;
        this.json = json;
        this.metrics = metrics;
    }

    @EventListener
    void onRedundantAttempt(RedundantAttempt attempt) {
        metrics.redundantAttempt();
        log.info(
                "Job(id={}) attempt {} is no longer worker {}'s (the job ended or was handed to another worker) "
                        + "but it started it; asking it to stop",
                attempt.jobId(),
                attempt.attempt(),
                attempt.workerId());
        try {
            // only that attempt on that worker: the worker that runs the job now is not disturbed
            CancelJobCommand cancel =
                    new CancelJobCommand(attempt.jobId(), Instant.now(), attempt.attempt(), attempt.workerId());
            controlTemplate.send(
                    Topology.CONTROL_EXCHANGE,
                    "",
                    ContractMessage.persistent(json.toBytes(cancel), attempt.jobId() + "/stop-" + attempt.attempt()));
        } catch (AmqpException e) {
            log.warn(
                    "Job(id={}): could not ask worker {} to stop its redundant attempt: {}",
                    attempt.jobId(),
                    attempt.workerId(),
                    e.getMessage());
        }
    }
}
