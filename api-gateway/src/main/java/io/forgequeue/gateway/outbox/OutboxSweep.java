package io.forgequeue.gateway.outbox;

import io.forgequeue.gateway.system.GatewayMetrics;
import io.forgequeue.gateway.system.InstanceProperties;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.dao.DataAccessException;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;

/**
 * The outbox's safety net and housekeeping: claims unsent entries that no instance holds (released after a failure,
 * or whose lease expired after a crash; {@code FOR UPDATE SKIP LOCKED}) and hands them to {@link OutboxPublisher};
 * refreshes the lag gauge; purges sent entries after their retention.
 */
@Component
class OutboxSweep {

    private static final Logger log = LoggerFactory.getLogger(OutboxSweep.class);

    private final OutboxRepository outbox;
    private final OutboxPublisher publisher;
    private final GatewayMetrics metrics;
    private final OutboxProperties properties;
    private final String instanceId;

    OutboxSweep(
            OutboxRepository outbox,
            OutboxPublisher publisher,
            GatewayMetrics metrics,
            OutboxProperties properties,
            InstanceProperties instance) {
        this.outbox = outbox;
        this.publisher = publisher;
        this.metrics = metrics;
        this.properties = properties;
        this.instanceId = instance.instanceId();
    }

    /** Publishes what nobody holds; also refreshes the lag gauge. */
    @Scheduled(
            fixedDelayString = "${gateway.outbox.sweep-interval:1s}",
            initialDelayString = "${gateway.outbox.sweep-interval:1s}")
    void sweep() {
        try {
            metrics.outboxLag(outbox.lagSeconds());
            List<OutboxRepository.Claimed> claimed =
                    outbox.claim(instanceId, properties.lease(), properties.batchSize());
            List<Long> stale = new ArrayList<>();
            for (OutboxRepository.Claimed c : claimed) {
                if (c.stale()) {
                    stale.add(c.entry().id());
                } else {
                    publisher.publishLater(c.entry());
                }
            }
            if (!stale.isEmpty()) {
                outbox.markSent(stale); // the job left QUEUED before its message went out: nothing to publish
            }
            if (!claimed.isEmpty()) {
                log.debug("Outbox sweep claimed {} entries ({} no longer needed)", claimed.size(), stale.size());
            }
        } catch (DataAccessException e) {
            log.warn("Outbox sweep failed: {}", e.getClass().getSimpleName());
        }
    }

    @Scheduled(
            fixedDelayString = "${gateway.outbox.purge-interval:1m}",
            initialDelayString = "${gateway.outbox.purge-interval:1m}")
    void purge() {
        try {
            outbox.purgeSent(properties.retention());
        } catch (DataAccessException e) {
            log.warn("Outbox purge failed: {}", e.getClass().getSimpleName());
        }
    }
}
