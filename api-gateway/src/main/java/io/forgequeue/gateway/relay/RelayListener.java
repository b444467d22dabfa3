package io.forgequeue.gateway.relay;

import io.forgequeue.gateway.fleet.SecurityProperties;
import io.forgequeue.gateway.fleet.WorkerDirectory;
import io.forgequeue.gateway.queue.QueueIndex;
import io.forgequeue.gateway.system.GatewayMetrics;
import io.forgequeue.gateway.system.InstanceProperties;
import io.forgequeue.gateway.system.WireJson;
import io.forgequeue.model.JobPreview;
import io.forgequeue.model.Topology;
import io.forgequeue.model.WorkerStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.amqp.AmqpRejectAndDontRequeueException;
import org.springframework.amqp.core.Message;
import org.springframework.amqp.rabbit.annotation.RabbitListener;
import org.springframework.stereotype.Component;

/**
 * Consumes this instance's relay queue ({@code forge.events.relay.<instance>}, bound {@code relay.#} and
 * {@code worker.#}) with a single consumer, so updates reach the sockets in the order they were published, and
 * worker announcements reach the {@link WorkerDirectory}. Updates this instance published itself
 * are skipped unread: {@link JobUpdatePublisher} gave them to its clients already. Unknown relay kinds are ignored
 * (newer gateways may add some).
 */
@Component
class RelayListener {

    private static final Logger log = LoggerFactory.getLogger(RelayListener.class);

    private final JobSocketHandler sockets;
    private final WireJson json;
    private final String instanceId;
    private final WorkerDirectory fleet;
    private final QueueIndex index;
    private final GatewayMetrics metrics;
    private final boolean requirePublisher;

    RelayListener(
            JobSocketHandler sockets,
            WireJson json,
            InstanceProperties instance,
            WorkerDirectory fleet,
            QueueIndex index,
            GatewayMetrics metrics,
            SecurityProperties security) {
        this.sockets = sockets;
        this.fleet = fleet;
        this.index = index;
        this.metrics = metrics;
        this.requirePublisher = security.requirePublisher();
        this.json = json;
        this.instanceId = instance.instanceId();
    }

    @RabbitListener(id = "relay", queues = "#{@relayQueueName.value()}", concurrency = "1")
    void onMessage(Message message) {
        String key = message.getMessageProperties().getReceivedRoutingKey();
        if (instanceId.equals(message.getMessageProperties().getHeader(JobUpdatePublisher.ORIGIN_HEADER))) {
            return;
        }
        try {
            if (JobUpdate.ROUTING_KEY.equals(key)) {
                sockets.onUpdate(json.read(message.getBody(), JobUpdate.class));
            } else if (Topology.PREVIEW_ROUTING_KEY.equals(key)) {
                JobPreview preview = json.read(message.getBody(), JobPreview.class);
                if (fromAssignedWorker(preview, publisher(message))) {
                    sockets.onPreview(preview);
                } else {
                    metrics.workerMessageRefused(GatewayMetrics.KIND_PREVIEW);
                    log.debug(
                            "Preview of job {} from worker {} (broker user {}) refused: not the job's assigned "
                                    + "worker and its broker user",
                            preview.jobId(),
                            preview.workerId(),
                            publisher(message));
                }
            } else if (Topology.WORKER_STATUS_ROUTING_KEY.equals(key)) {
                announce(json.read(message.getBody(), WorkerStatus.class), publisher(message));
            }
        } catch (RuntimeException e) {
            log.debug("Relay message {} dropped: {}", key, e.getClass().getSimpleName());
            throw new AmqpRejectAndDontRequeueException("unusable relay message", e);
        }
    }

    private void announce(WorkerStatus status, String publisher) {
        if (publisher == null && requirePublisher) {
            metrics.workerMessageRefused(GatewayMetrics.KIND_ANNOUNCEMENT);
            log.warn(
                    "Worker {} announced itself without a broker user (user_id) and is refused "
                            + "(gateway.security.require-publisher)",
                    status.workerId());
            return;
        }
        if (!fleet.accept(status, publisher)) {
            metrics.workerMessageRefused(GatewayMetrics.KIND_ANNOUNCEMENT);
        }
    }

    /**
     * Whether the preview comes from the worker its job is assigned to, published by that worker's broker user: a
     * worker credential cannot push previews into another job's (another user's) browser.
     */
    private boolean fromAssignedWorker(JobPreview preview, String publisher) {
        if (!preview.workerId().equals(index.assignedWorker(preview.jobId()))) {
            return false;
        }
        String user = fleet.brokerUserOf(preview.workerId()).orElse(null);
        return user == null ? !requirePublisher : user.equals(publisher);
    }

    /** The broker user that published the message: its {@code user_id}, which RabbitMQ validated; null if none. */
    private static String publisher(Message message) {
        String user = message.getMessageProperties().getReceivedUserId();
        return user != null ? user : message.getMessageProperties().getUserId();
    }
}
