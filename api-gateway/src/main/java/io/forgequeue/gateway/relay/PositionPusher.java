package io.forgequeue.gateway.relay;

import io.forgequeue.gateway.queue.Positions;
import io.forgequeue.gateway.system.GatewayMetrics;
import jakarta.annotation.PreDestroy;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.dao.DataAccessException;
import org.springframework.stereotype.Component;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Pushes new queue positions to waiting clients when the queue of a pool moved. Movements are coalesced: the
 * first one schedules a flush after {@link RelayProperties#positionDebounce()}, later ones in that window only
 * mark their pool, so a burst costs one position query per pool and at most one frame per client and job.
 */
@Component
class PositionPusher {

    private static final Logger log = LoggerFactory.getLogger(PositionPusher.class);

    private final SocketRegistry registry;
    private final Positions positions;
    private final Frames frames;
    private final GatewayMetrics metrics;
    private final long debounceMillis;
    private final Set<String> dirty = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean scheduled = new AtomicBoolean();
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "ws-positions");
        t.setDaemon(true);
        return t;
    });

    PositionPusher(SocketRegistry registry, Positions positions, Frames frames, GatewayMetrics metrics,
                   RelayProperties properties) {
        this.registry = registry;
        this.positions = positions;
        this.frames = frames;
        this.metrics = metrics;
        this.debounceMillis = properties.positionDebounce().toMillis();
    }

    /** The queue of {@code pool} moved: push new positions soon. */
    void queueMoved(String pool) {
        dirty.add(pool);
        if (scheduled.compareAndSet(false, true)) {
            timer.schedule(this::flush, debounceMillis, TimeUnit.MILLISECONDS);
        }
    }

    private void flush() {
        scheduled.set(false);
        List<String> pools = new ArrayList<>(dirty);
        dirty.removeAll(pools);
        for (String pool : pools) {
            try {
                Map<UUID, List<SocketSession>> waiting = registry.queuedWatchesIn(pool);
                if (waiting.isEmpty()) {
                    continue;
                }
                Map<UUID, Integer> now = positions.positions(pool, waiting.keySet());
                now.forEach((jobId, position) -> {
                    // encoded once per version for all the sessions watching this job
                    Map<Long, String> encoded = new java.util.HashMap<>(2);
                    java.util.function.LongFunction<String> frame = version -> encoded.computeIfAbsent(version,
                            v -> frames.position(jobId, position, v));
                    for (SocketSession session : waiting.get(jobId)) {
                        if (session.position(jobId, position, frame)) {
                            metrics.framePushed("position");
                        }
                    }
                });
            } catch (DataAccessException e) {
                log.warn("Position push for pool {} failed: {}", pool, e.getClass().getSimpleName());
            } catch (RuntimeException e) {
                log.error("Position push for pool {} failed", pool, e);
            }
        }
    }

    @PreDestroy
    void stop() {
        timer.shutdownNow();
    }
}
