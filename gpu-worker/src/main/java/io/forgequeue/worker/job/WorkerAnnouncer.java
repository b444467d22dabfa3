package io.forgequeue.worker.job;

import io.forgequeue.model.Topology;
import io.forgequeue.model.WorkerState;
import io.forgequeue.model.WorkerStatus;
import io.forgequeue.worker.forge.ForgeClient;
import io.forgequeue.worker.system.WireJson;
import io.forgequeue.worker.system.WorkerProperties;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.amqp.AmqpException;
import org.springframework.amqp.core.Message;
import org.springframework.amqp.core.MessageDeliveryMode;
import org.springframework.amqp.core.MessageProperties;
import org.springframework.amqp.rabbit.connection.ConnectionFactory;
import org.springframework.amqp.rabbit.core.RabbitTemplate;
import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Announces this worker to every gateway ({@link WorkerStatus} on {@code worker.status}): its state (READY while
 * its job consumer runs, PAUSED while its Forge is unavailable, DRAINING once shutdown began, GONE last), the
 * assignment it holds, and what its Forge offers. Sent every {@code worker.presence.interval}, at once when the
 * state changes (checked ten times a second), and a last time as GONE when the worker stops. Nothing is sent
 * before the job consumer first runs: the scheduler must not hand out jobs before this worker's queue exists.
 *
 * <p>Fire and forget (not persistent, not mandatory): a lost announcement is replaced by the next one, and the
 * gateways take a worker for lost only after several are missing. One named thread ({@code worker-presence}).
 */
@Component
class WorkerAnnouncer implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(WorkerAnnouncer.class);
    private static final long CHECK_MILLIS = 100;

    private final RabbitTemplate template;
    private final WireJson json;
    private final WorkerProperties worker;
    private final ForgeClient forge;
    private final ConsumptionControl consumption;
    private final ShutdownGrace shutdown;
    private final Holding holding;
    private final Clock clock;
    private final UUID instance = UUID.randomUUID();
    private final AtomicLong seq = new AtomicLong();
    private ScheduledExecutorService timer;
    private volatile boolean running;
    private volatile boolean started;
    private WorkerState lastState;
    private WorkerStatus.ForgeOffer lastOffer;
    private long lastSentNanos;
    private long lastOfferNanos;
    private boolean failing;

    WorkerAnnouncer(ConnectionFactory connectionFactory, WireJson json, WorkerProperties worker, ForgeClient forge,
                    ConsumptionControl consumption, ShutdownGrace shutdown, Holding holding, Clock clock) {
        this.template = new RabbitTemplate(connectionFactory);
        this.template.setMandatory(false);
        this.template.setUsePublisherConnection(true);
        this.json = json;
        this.worker = worker;
        this.forge = forge;
        this.consumption = consumption;
        this.shutdown = shutdown;
        this.holding = holding;
        this.clock = clock;
    }

    /** This worker process's instance id as announced. */
    UUID instance() {
        return instance;
    }

    private WorkerState state() {
        if (shutdown.isStopping()) {
            return WorkerState.DRAINING;
        }
        if (consumption.isPaused()) {
            return WorkerState.PAUSED;
        }
        return consumption.isConsuming() ? WorkerState.READY : null;
    }

    /** Runs every {@link #CHECK_MILLIS}: announces when due or when the state changed. */
    synchronized void tick() {
        WorkerState state = state();
        if (state == null) {
            return; // not consuming yet (starting) or between a pause's stop and its flag
        }
        started = true;
        long now = System.nanoTime();
        boolean due = now - lastSentNanos >= worker.presence().interval().toNanos();
        if (state != lastState || due) {
            send(state, now);
        }
    }

    private void send(WorkerState state, long now) {
        WorkerStatus.ForgeOffer offer = currentOffer();
        boolean offerDue = !Objects.equals(offer, lastOffer)
                || now - lastOfferNanos >= worker.presence().offerEvery().toNanos();
        WorkerStatus status = new WorkerStatus(worker.id(), instance, worker.pool(), state, seq.incrementAndGet(),
                state == WorkerState.GONE ? null : holding.current(), offerDue ? offer : null,
                worker.presence().interval().toMillis(), clock.instant());
        MessageProperties props = new MessageProperties();
        props.setContentType("application/json");
        props.setContentEncoding(StandardCharsets.UTF_8.name());
        props.setDeliveryMode(MessageDeliveryMode.NON_PERSISTENT);
        props.setHeader(io.forgequeue.model.Contract.VERSION_HEADER, io.forgequeue.model.Contract.VERSION);
        props.setAppId("gpu-worker");
        try {
            template.send(Topology.EVENTS_EXCHANGE, Topology.WORKER_STATUS_ROUTING_KEY,
                    new Message(json.mapper().writeValueAsBytes(status), props));
            if (state != lastState) {
                log.info("Announced as {} to the gateways", state);
            }
            lastState = state;
            lastSentNanos = now;
            if (offerDue && offer != null) {
                lastOffer = offer;
                lastOfferNanos = now;
            }
            if (failing) {
                failing = false;
                log.info("Announcements reach the broker again");
            }
        } catch (AmqpException e) {
            if (!failing) {
                failing = true;
                log.warn("Announcement not sent ({}); the gateways take this worker for lost if it lasts",
                        e.getMessage());
            }
        }
    }

    private WorkerStatus.ForgeOffer currentOffer() {
        try {
            return forge.offer().map(o -> new WorkerStatus.ForgeOffer(o.identity(), o.checkpoints(), o.samplers(),
                    o.schedulers(), o.loadedCheckpoint(), o.loadSeconds(), o.secondsPerStep())).orElse(null);
        } catch (RuntimeException e) {
            return null;
        }
    }

    @Override
    public void start() {
        running = true;
        timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "worker-presence");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleWithFixedDelay(() -> {
            try {
                tick();
            } catch (RuntimeException e) {
                log.warn("Announcement failed: {}", e.toString());
            }
        }, CHECK_MILLIS, CHECK_MILLIS, TimeUnit.MILLISECONDS);
    }

    /** After the job consumer stopped (the lower phase stops later): the last word is GONE. */
    @Override
    public void stop() {
        running = false;
        if (timer != null) {
            timer.shutdownNow();
            try {
                timer.awaitTermination(2, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        synchronized (this) {
            if (started) {
                send(WorkerState.GONE, System.nanoTime());
            }
        }
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    @Override
    public int getPhase() {
        return Integer.MAX_VALUE - 100;
    }
}
