package io.forgequeue.gateway.relay;

import io.forgequeue.gateway.system.InstanceProperties;
import io.forgequeue.gateway.system.WireJson;
import io.forgequeue.gateway.fleet.WorkerDirectory;
import io.forgequeue.model.JobPreview;
import io.forgequeue.model.WorkerStatus;
import io.forgequeue.model.Topology;
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

    RelayListener(JobSocketHandler sockets, WireJson json, InstanceProperties instance, WorkerDirectory fleet) {
        this.sockets = sockets;
        this.fleet = fleet;
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
                sockets.onPreview(json.read(message.getBody(), JobPreview.class));
            } else if (Topology.WORKER_STATUS_ROUTING_KEY.equals(key)) {
                fleet.accept(json.read(message.getBody(), WorkerStatus.class));
            }
        } catch (RuntimeException e) {
            log.debug("Relay message {} dropped: {}", key, e.getClass().getSimpleName());
            throw new AmqpRejectAndDontRequeueException("unusable relay message", e);
        }
    }
}
