package io.forgequeue.worker.forge;

import dev.failsafe.CircuitBreaker;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.event.EventListener;
import org.springframework.stereotype.Component;

/**
 * Reads Forge's checkpoint, sampler and scheduler lists again every {@code worker.models.catalog-refresh}, so that a
 * model added on the server (and Forge's own POST /sdapi/v1/refresh-checkpoints) reaches the worker's announcements;
 * the announcer sends an offer that changed at once. Skipped while the breaker is open (Forge is down; the worker is
 * paused and offers nothing new). Runs on the worker's scheduler, first one period after startup: the first read is
 * the announcer's ({@code WorkerAnnouncer} asks for the lists as it starts, and again soon while they cannot be read).
 */
@Component
class CatalogRefresh {

    private static final Logger log = LoggerFactory.getLogger(CatalogRefresh.class);

    private final ForgeClient forge;
    private final ModelProperties props;
    private final ScheduledExecutorService scheduler;

    CatalogRefresh(ForgeClient forge, ModelProperties props, ScheduledExecutorService workerScheduler) {
        this.forge = forge;
        this.props = props;
        this.scheduler = workerScheduler;
    }

    @EventListener(ApplicationReadyEvent.class)
    void start() {
        long every = Math.max(1000, props.catalogRefresh().toMillis());
        scheduler.scheduleWithFixedDelay(this::refresh, every, every, TimeUnit.MILLISECONDS);
    }

    void refresh() {
        if (forge.breakerState() == CircuitBreaker.State.OPEN) {
            return;
        }
        try {
            if (forge.refreshCatalog()) {
                log.debug("Forge's lists read again");
            }
        } catch (RuntimeException e) {
            log.debug("Forge's lists not read: {}", e.toString());
        }
    }
}
