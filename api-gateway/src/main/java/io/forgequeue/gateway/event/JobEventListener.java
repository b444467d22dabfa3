package io.forgequeue.gateway.event;

import com.rabbitmq.client.Channel;
import io.forgequeue.gateway.system.GatewayMetrics;
import io.forgequeue.gateway.system.WireJson;
import io.forgequeue.model.JobEvent;
import io.forgequeue.model.Topology;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.amqp.core.Message;
import org.springframework.amqp.rabbit.annotation.RabbitListener;
import org.springframework.stereotype.Component;

/**
 * Consumes {@value Topology#PERSIST_QUEUE} (one durable queue shared by all gateways, so each event is merged by
 * exactly one of them) and hands each event to the {@link MergeBatcher}, which acknowledges it only after its merge
 * committed (manual acknowledgement). An unreadable message is counted and dropped at once; while the database is
 * unreachable events are returned to the queue after a pause, so nothing is lost.
 */
@Component
class JobEventListener {

    private static final Logger log = LoggerFactory.getLogger(JobEventListener.class);

    private final MergeBatcher batcher;
    private final WireJson json;
    private final GatewayMetrics metrics;

    JobEventListener(MergeBatcher batcher, WireJson json, GatewayMetrics metrics) {
        this.batcher = batcher;
        this.json = json;
        this.metrics = metrics;
    }

    @RabbitListener(
            id = "job-events",
            queues = Topology.PERSIST_QUEUE,
            ackMode = "MANUAL",
            concurrency = "${gateway.events.consumers:4}",
            autoStartup = "${gateway.events.merge-enabled:true}")
    void onEvent(Message message, Channel channel) throws IOException {
        long tag = message.getMessageProperties().getDeliveryTag();
        JobEvent event;
        try {
            event = json.read(message.getBody(), JobEvent.class);
        } catch (RuntimeException e) {
            metrics.eventRejected("unreadable");
            log.warn(
                    "Dropped an unreadable event (routing key {}): {}",
                    message.getMessageProperties().getReceivedRoutingKey(),
                    e.getClass().getSimpleName());
            channel.basicReject(tag, false);
            return;
        }
        batcher.submit(new MergeBatcher.Delivery(event, publisher(message), channel, tag));
    }

    /** The broker user that published the message: its {@code user_id}, which RabbitMQ validated; null if none. */
    static String publisher(Message message) {
        String user = message.getMessageProperties().getReceivedUserId();
        return user != null ? user : message.getMessageProperties().getUserId();
    }
}
