package io.forgequeue.gateway.event;

import io.forgequeue.gateway.system.DatabaseFailures;
import io.forgequeue.gateway.system.GatewayMetrics;
import io.forgequeue.gateway.system.WireJson;
import io.forgequeue.model.JobEvent;
import io.forgequeue.model.Topology;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;
import org.springframework.amqp.AmqpRejectAndDontRequeueException;
import org.springframework.amqp.core.Message;
import org.springframework.amqp.rabbit.annotation.RabbitListener;
import org.springframework.dao.DataAccessException;
import org.springframework.stereotype.Component;

/**
 * Consumes {@value Topology#PERSIST_QUEUE} (one durable queue shared by all gateways, so each event is merged by
 * exactly one of them) and merges each event. The message is acknowledged only after the merge committed. An
 * unreadable message is counted and dropped; while the database is unreachable the message is returned to the
 * queue after a pause, so nothing is lost.
 */
@Component
class JobEventListener {

    private static final Logger log = LoggerFactory.getLogger(JobEventListener.class);

    private final EventMerger merger;
    private final WireJson json;
    private final GatewayMetrics metrics;

    JobEventListener(EventMerger merger, WireJson json, GatewayMetrics metrics) {
        this.merger = merger;
        this.json = json;
        this.metrics = metrics;
    }

    @RabbitListener(id = "job-events", queues = Topology.PERSIST_QUEUE,
            concurrency = "${gateway.events.consumers:4}", autoStartup = "${gateway.events.merge-enabled:true}")
    void onEvent(Message message) {
        JobEvent event;
        try {
            event = json.read(message.getBody(), JobEvent.class);
        } catch (RuntimeException e) {
            metrics.eventRejected("unreadable");
            log.warn("Dropped an unreadable event (routing key {}): {}",
                    message.getMessageProperties().getReceivedRoutingKey(), e.getClass().getSimpleName());
            throw new AmqpRejectAndDontRequeueException("unreadable event", e);
        }
        MDC.put("jobId", event.jobId().toString());
        try {
            merger.merge(event);
        } catch (DataAccessException e) {
            if (DatabaseFailures.isUnavailable(e)) {
                log.warn("Job(id={}) event {} not merged, database unavailable; returning it to the queue",
                        event.jobId(), event.type());
                pause();
                throw e;
            }
            metrics.eventRejected("error");
            log.error("Job(id={}) event {} could not be merged and is dropped", event.jobId(), event.type(), e);
            throw new AmqpRejectAndDontRequeueException("merge failed", e);
        } finally {
            MDC.remove("jobId");
        }
    }

    private static void pause() {
        try {
            Thread.sleep(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
