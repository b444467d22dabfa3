package io.forgequeue.gateway.relay;

import io.forgequeue.gateway.fleet.WorkerDirectory;
import io.forgequeue.gateway.queue.QueueIndex;
import io.forgequeue.gateway.queue.QueueStats;
import io.forgequeue.gateway.system.GatewayMetrics;
import io.forgequeue.gateway.system.ThreadPools;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.scheduling.concurrent.ThreadPoolTaskScheduler;
import org.springframework.stereotype.Component;

/**
 * Pushes new queue positions to waiting clients when the queue of a pool moved (the {@link QueueIndex} changed: a
 * job arrived, was handed out, cancelled or given back) or the fleet changed (what a job waits for, e.g. "no GPU
 * available", is part of the frame). Movements are coalesced: the first one schedules a flush
 * after {@link RelayProperties#positionDebounce()}, later ones in that window only mark their pool, so a burst costs
 * one pass over the watched jobs of the pool and at most one frame per client and job. Positions come from the
 * index (an order-statistic lookup per watched job), never from a query.
 */
@Component
class PositionPusher implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(PositionPusher.class);

    private final SocketRegistry registry;
    private final QueueIndex index;
    private final QueueStats stats;
    private final Frames frames;
    private final GatewayMetrics metrics;
    private final long debounceMillis;
    private final MeterRegistry meters;
    private volatile boolean running;
    private final Set<String> dirty = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean allDirty = new AtomicBoolean();
    private final AtomicBoolean scheduled = new AtomicBoolean();
    private final ThreadPoolTaskScheduler timer = ThreadPools.scheduler("ws-positions", 1);

    PositionPusher(
            SocketRegistry registry,
            QueueIndex index,
            QueueStats stats,
            Frames frames,
            GatewayMetrics metrics,
            RelayProperties properties,
            WorkerDirectory fleet,
            MeterRegistry meters) {
        this.meters = meters;
        this.registry = registry;
        this.index = index;
        this.stats = stats;
        this.frames = frames;
        this.metrics = metrics;
        this.debounceMillis = properties.positionDebounce().toMillis();
        index.onChange(this::queueMoved);
        // a worker paused, resumed, joined or left: what a job waits for (waiting.blocked) and its ETA change
        fleet.onChange(() -> queueMoved(null));
    }

    /** The queue of {@code pool} moved (null: every pool, after a reload): push new positions soon. */
    void queueMoved(String pool) {
        if (pool == null) {
            allDirty.set(true);
        } else {
            dirty.add(pool);
        }
        if (scheduled.compareAndSet(false, true)) {
            timer.schedule(this::flush, Instant.now().plusMillis(debounceMillis));
        }
    }

    private void flush() {
        scheduled.set(false);
        List<String> pools = new ArrayList<>(dirty);
        dirty.removeAll(pools);
        if (allDirty.getAndSet(false)) {
            pools = null;
        }
        try {
            Map<UUID, List<SocketSession>> waiting =
                    pools == null ? registry.queuedWatches() : registry.queuedWatchesIn(pools);
            // why jobs wait depends only on their pool and checkpoint: decided once per flush, not per watched job
            // (with a large fleet, deciding it for each watched job would cost more than the positions)
            Map<List<String>, Optional<String>> blocked = new HashMap<>();
            waiting.forEach((jobId, sessions) -> push(jobId, sessions, blocked));
        } catch (RuntimeException e) {
            log.error("Position push failed", e);
        }
    }

    private void push(UUID jobId, List<SocketSession> sessions, Map<List<String>, Optional<String>> blockedMemo) {
        QueueIndex.Standing standing = index.standing(jobId);
        metrics.positionComputed("standing");
        if (standing == null) {
            return; // no longer queued: its update frame says so
        }
        String pool = sessions.get(0).poolOf(jobId);
        String checkpoint = sessions.get(0).checkpointOf(jobId);
        String blocked = standing.assigned() || pool == null
                ? null
                : blockedMemo
                        .computeIfAbsent(
                                java.util.Arrays.asList(pool, checkpoint),
                                k -> Optional.ofNullable(stats.blockedReason(pool, checkpoint)))
                        .orElse(null);
        long detail = Objects.hash(standing.ownAhead(), standing.assigned(), blocked);
        // encoded once per version for all the sessions watching this job
        Map<Long, String> encoded = new HashMap<>(2);
        java.util.function.LongFunction<String> frame = version -> encoded.computeIfAbsent(version, v -> {
            metrics.positionComputed("frame");
            return frames.position(jobId, pool, checkpoint, standing, blocked, v);
        });
        for (SocketSession session : sessions) {
            if (session.position(jobId, standing.position(), detail, frame)) {
                metrics.framePushed("position");
            }
        }
    }

    @Override
    public void start() {
        ThreadPools.start(timer, meters);
        running = true;
    }

    @Override
    public void stop() {
        running = false;
        timer.shutdown();
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    /** Its threads run before the notifications, the web server and the listeners that feed them, and stop after. */
    @Override
    public int getPhase() {
        return ThreadPools.PHASE;
    }
}
