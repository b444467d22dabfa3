package io.forgequeue.gateway.relay;

import io.forgequeue.gateway.apikey.Caller;
import io.forgequeue.gateway.fleet.WorkerDirectory;
import io.forgequeue.gateway.queue.QueueIndex;
import io.forgequeue.gateway.queue.QueueOverview;
import io.forgequeue.gateway.system.GatewayMetrics;
import io.forgequeue.gateway.system.ThreadPools;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.scheduling.concurrent.ThreadPoolTaskScheduler;
import org.springframework.stereotype.Component;

/**
 * Pushes the queue overview ({@link QueueOverview}, the body of GET /api/v1/queue) to the clients that subscribed to
 * it, whenever it may have changed: the {@link QueueIndex} moved (a job arrived, started, finished, was given back)
 * or the {@link WorkerDirectory} changed (a worker joined, paused because its Forge is unreachable, resumed, left or
 * fell silent). Changes are coalesced like positions ({@link RelayProperties#positionDebounce()}): a burst costs one
 * pass, the overview is built once per key, and a client gets a frame only when its overview differs from the last
 * one it was sent. So a page's header and outage banner follow the cards instead of re-reading a snapshot.
 */
@Component
class QueuePusher implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(QueuePusher.class);

    private final SocketRegistry registry;
    private final QueueOverview overview;
    private final Frames frames;
    private final GatewayMetrics metrics;
    private final long debounceMillis;
    private final MeterRegistry meters;
    private volatile boolean running;
    private final AtomicBoolean scheduled = new AtomicBoolean();
    private final ThreadPoolTaskScheduler timer = ThreadPools.scheduler("ws-queue", 1);

    QueuePusher(
            SocketRegistry registry,
            QueueOverview overview,
            QueueIndex index,
            WorkerDirectory fleet,
            Frames frames,
            GatewayMetrics metrics,
            RelayProperties properties,
            MeterRegistry meters) {
        this.meters = meters;
        this.registry = registry;
        this.overview = overview;
        this.frames = frames;
        this.metrics = metrics;
        this.debounceMillis = properties.positionDebounce().toMillis();
        index.onChange(pool -> changed());
        fleet.onChange(this::changed);
    }

    /** The overview may have changed: push it soon. */
    void changed() {
        if (scheduled.compareAndSet(false, true)) {
            timer.schedule(this::flush, Instant.now().plusMillis(debounceMillis));
        }
    }

    /** Sends the current overview to one session that just subscribed. */
    void pushTo(SocketSession session) {
        Caller caller = session.caller();
        if (caller != null
                && session.queue(
                        frames.queue(overview.of(caller.keyId(), caller.quota().weight())))) {
            metrics.framePushed("queue");
        }
    }

    private void flush() {
        scheduled.set(false);
        try {
            Map<UUID, String> byKey = new HashMap<>();
            for (SocketSession session : registry.all()) {
                Caller caller = session.caller();
                if (caller == null || !session.watchesQueue()) {
                    continue;
                }
                String frame = byKey.computeIfAbsent(
                        caller.keyId(),
                        k -> frames.queue(overview.of(k, caller.quota().weight())));
                if (session.queue(frame)) {
                    metrics.framePushed("queue");
                }
            }
        } catch (RuntimeException e) {
            log.error("Queue overview push failed", e);
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
