package io.forgequeue.worker.job;

import com.rabbitmq.client.Channel;
import io.forgequeue.model.Topology;
import io.forgequeue.model.WorkerState;
import io.forgequeue.model.WorkerStatus;
import io.forgequeue.worker.forge.ForgeClient;
import io.forgequeue.worker.system.ThreadPools;
import io.forgequeue.worker.system.WireJson;
import io.forgequeue.worker.system.WorkerProperties;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.amqp.AmqpException;
import org.springframework.amqp.core.MessageDeliveryMode;
import org.springframework.amqp.core.MessageProperties;
import org.springframework.amqp.rabbit.connection.ConnectionFactory;
import org.springframework.amqp.rabbit.connection.RabbitUtils;
import org.springframework.amqp.rabbit.support.DefaultMessagePropertiesConverter;
import org.springframework.amqp.rabbit.support.MessagePropertiesConverter;
import org.springframework.amqp.rabbit.support.RabbitExceptionTranslator;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.context.SmartLifecycle;
import org.springframework.scheduling.concurrent.ThreadPoolTaskScheduler;
import org.springframework.stereotype.Component;

/**
 * Announces this worker to every gateway ({@link WorkerStatus} on {@code worker.status}): its state, the assignment
 * it holds, and what its Forge offers. Sent every {@code worker.presence.interval}, at once (checked ten times a
 * second) when the state or the held assignment changes, and a last time as GONE when the worker stops.
 *
 * <p>States: READY while the job consumer is registered on this worker's queue (the scheduler may hand it jobs);
 * PAUSED while Forge is unavailable, and while the consumer reconnects after its connection dropped (its queue went
 * with it); DRAINING from the moment shutdown begins; GONE last. Nothing is sent before the startup check of Forge
 * is over and the consumer first registered: the scheduler must not hand out jobs this worker cannot receive.
 *
 * <p>The Forge offer (identity, checkpoints, samplers, schedulers, the checkpoint loaded now, the measured load
 * times and speed: {@link ForgeClient#offer()}) rides along when it changed and every
 * {@code worker.presence.offer-every}; the statuses in between omit it (the gateways keep the last one). Building
 * it never calls Forge: Forge's lists are first read on a thread of their own ({@code worker-offer}) and then
 * refreshed by {@code CatalogRefresh}, so a slow or hanging Forge never delays an announcement (a worker that fell
 * silent would be taken for lost and its running job handed out again).
 *
 * <p>Fire and forget (not persistent, not mandatory): a lost announcement is replaced by the next one, and the
 * gateways take a worker for lost only after several are missing. While the broker refuses them, a send is tried
 * again once per interval. Threads: {@code worker-presence} (announcements) and {@code worker-offer}.
 */
@Component
class WorkerAnnouncer implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(WorkerAnnouncer.class);
    private static final long CHECK_MILLIS = 100;
    /** The longest pause between two requests for Forge's lists while none could be read. */
    static final java.time.Duration MAX_OFFER_ASK_PAUSE = java.time.Duration.ofSeconds(30);

    /** Where announcements go: the broker in production. */
    interface Sink {
        /** Hands the announcement to the broker; throws when it cannot. */
        void send(WorkerStatus status);
    }

    private final Sink sink;
    private final WorkerProperties worker;
    private final ForgeClient forge;
    private final ConsumptionControl consumption;
    private final ShutdownGrace shutdown;
    private final Holding holding;
    private final Clock clock;
    private final UUID instance = UUID.randomUUID();
    private final AtomicLong seq = new AtomicLong();
    private final long intervalNanos;
    private final long offerEveryNanos;
    private final ThreadPoolTaskScheduler timer = ThreadPools.scheduler("worker-presence", 1);
    private final ThreadPoolTaskScheduler offerReader = ThreadPools.scheduler("worker-offer", 1);
    private final MeterRegistry meters;
    private volatile boolean running;
    /** How often the announcer's thread checks whether to announce ({@link #CHECK_MILLIS}; tests set another). */
    private long checkMillis = CHECK_MILLIS;
    /** Whether Forge's lists were asked for at least once (the first announcement waits for it). */
    private volatile boolean offerAsked;
    // on worker-offer only: while Forge's lists were never read, when to ask again, and the pause after that
    private long nextOfferAskNanos;
    private long offerAskPauseNanos;
    // guarded by this
    private boolean started;
    private boolean failing;
    private WorkerState lastState;
    private WorkerStatus.Assignment lastRunning;
    private WorkerStatus.ForgeOffer lastOffer;
    private long lastSentNanos;
    private long lastOfferNanos;
    private long lastTryNanos;

    @Autowired
    WorkerAnnouncer(
            ConnectionFactory connectionFactory,
            WireJson json,
            WorkerProperties worker,
            ForgeClient forge,
            ConsumptionControl consumption,
            ShutdownGrace shutdown,
            Holding holding,
            Clock clock,
            MeterRegistry meters) {
        this(brokerSink(connectionFactory, json), worker, forge, consumption, shutdown, holding, clock, meters);
    }

    WorkerAnnouncer(
            Sink sink,
            WorkerProperties worker,
            ForgeClient forge,
            ConsumptionControl consumption,
            ShutdownGrace shutdown,
            Holding holding,
            Clock clock,
            MeterRegistry meters) {
        this.sink = sink;
        this.meters = meters;
        timer.setAwaitTerminationMillis(2000);
        this.worker = worker;
        this.forge = forge;
        this.consumption = consumption;
        this.shutdown = shutdown;
        this.holding = holding;
        this.clock = clock;
        this.intervalNanos = worker.presence().interval().toNanos();
        this.offerEveryNanos = worker.presence().offerEvery().toNanos();
        this.nextOfferAskNanos = System.nanoTime();
        holding.onChange(this::heldChanged);
    }

    /**
     * The held assignment changed: announce at once rather than at the next check, so the scheduler frees the slot
     * of the job this worker moved on from without waiting up to {@link #CHECK_MILLIS} (with short jobs, that wait
     * was a large part of each job's hand-out cycle).
     */
    private void heldChanged() {
        if (running) {
            try {
                timer.execute(this::tickQuietly);
            } catch (org.springframework.core.task.TaskRejectedException | IllegalStateException e) {
                // not started yet, or stopping: the next check (or the last announcement, GONE) follows
            }
        }
    }

    /** Before {@link #start()}: check this often instead of every {@link #CHECK_MILLIS} (tests). */
    void checkEvery(Duration every) {
        checkMillis = every.toMillis();
    }

    private void tickQuietly() {
        try {
            tick();
        } catch (RuntimeException e) {
            log.warn("Announcement failed: {}", e.toString());
        }
    }

    /**
     * Over one channel of the publisher connection, JSON with the contract header and user_id, not persistent, not
     * mandatory. One channel keeps the announcements in the order they were sent: the connection factory hands its
     * cached channels out in turn, and two announcements in quick succession (a change of the held assignment right
     * after a periodic one) could overtake each other on two channels. Called under the announcer's lock only.
     */
    private static Sink brokerSink(ConnectionFactory connectionFactory, WireJson json) {
        ConnectionFactory publisher = connectionFactory.getPublisherConnectionFactory() != null
                ? connectionFactory.getPublisherConnectionFactory()
                : connectionFactory;
        String brokerUser = connectionFactory.getUsername();
        MessagePropertiesConverter converter = new DefaultMessagePropertiesConverter();
        Channel[] channel = new Channel[1];
        return status -> {
            // the broker user (user_id, validated by RabbitMQ) binds this worker id to its credential on the gateways
            MessageProperties props = JobEventPublisher.properties(MessageDeliveryMode.NON_PERSISTENT, brokerUser);
            byte[] body = json.mapper().writeValueAsBytes(status);
            try {
                if (channel[0] == null || !channel[0].isOpen()) {
                    channel[0] = publisher.createConnection().createChannel(false);
                }
                channel[0].basicPublish(
                        Topology.EVENTS_EXCHANGE,
                        Topology.WORKER_STATUS_ROUTING_KEY,
                        false,
                        converter.fromMessageProperties(props, StandardCharsets.UTF_8.name()),
                        body);
            } catch (IOException | RuntimeException e) {
                RabbitUtils.closeChannel(channel[0]);
                channel[0] = null;
                throw RabbitExceptionTranslator.convertRabbitAccessException(e);
            }
        };
    }

    /** This worker process's instance id as announced. */
    UUID instance() {
        return instance;
    }

    /** What to announce now, or null to announce nothing (not yet known to the gateways, or broken). */
    private WorkerState state() {
        if (shutdown.isStopping()) {
            return started ? WorkerState.DRAINING : null;
        }
        if (consumption.isPaused()) {
            return WorkerState.PAUSED;
        }
        if (!consumption.hasCheckedForgeAtStartup()) {
            return null;
        }
        if (consumption.isConsuming()) {
            return WorkerState.READY;
        }
        // the consumer is reconnecting (its queue is being declared again): alive, holding what it holds, but no
        // job can reach it; a container that stopped for good leaves the worker silent (the gateways take it for lost)
        return started && consumption.isContainerRunning() ? WorkerState.PAUSED : null;
    }

    /** Runs every {@link #CHECK_MILLIS}: announces when due, or when the state or the held assignment changed. */
    synchronized void tick() {
        if (!started && !offerAsked) {
            return; // the first announcement carries the offer when Forge could give it
        }
        WorkerState state = state();
        if (state == null) {
            return;
        }
        long now = System.nanoTime();
        WorkerStatus.Assignment held = holding.current();
        boolean changed = state != lastState || !Objects.equals(held, lastRunning);
        if (!changed && now - lastSentNanos < intervalNanos) {
            return;
        }
        if (failing && now - lastTryNanos < intervalNanos) {
            return; // the broker refused the last one: try again once per interval, not ten times a second
        }
        started = true;
        send(state, held, now);
    }

    private void send(WorkerState state, WorkerStatus.Assignment held, long now) {
        WorkerStatus.ForgeOffer offer = currentOffer();
        boolean offerDue = offer != null && (!offer.equals(lastOffer) || now - lastOfferNanos >= offerEveryNanos);
        WorkerStatus status = new WorkerStatus(
                worker.id(),
                instance,
                worker.pool(),
                state,
                seq.incrementAndGet(),
                state == WorkerState.GONE ? null : held,
                offerDue ? offer : null,
                worker.presence().interval().toMillis(),
                clock.instant());
        lastTryNanos = now;
        try {
            sink.send(status);
            if (state != lastState) {
                log.info("Announced as {} to the gateways", state);
            }
            lastState = state;
            lastRunning = held;
            lastSentNanos = now;
            if (offerDue) {
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
                log.warn(
                        "Announcement not sent ({}); the gateways take this worker for lost if it lasts",
                        e.getMessage());
            }
        }
    }

    /**
     * What Forge offers now, without a call: its lists as last read, with the checkpoint loaded now and the measured
     * load times and speed (so the announcement of a released job already names the checkpoint that job left
     * loaded); null before the lists were first read.
     */
    private WorkerStatus.ForgeOffer currentOffer() {
        return forge.offer()
                .map(o -> new WorkerStatus.ForgeOffer(
                        o.identity(),
                        o.checkpoints(),
                        o.samplers(),
                        o.schedulers(),
                        o.loadedCheckpoint(),
                        o.loadSeconds(),
                        o.secondsPerStep()))
                .orElse(null);
    }

    /**
     * On {@code worker-offer}: until Forge's lists were read once, asks for them (at start, then again after a pause
     * that starts at the interval and doubles up to {@link #MAX_OFFER_ASK_PAUSE}: a first read that failed because
     * Forge was slow, down or restarting must not leave the worker without an offer for long). Once read, does nothing:
     * {@code CatalogRefresh} reads them again every {@code worker.models.catalog-refresh}.
     */
    void readOffer() {
        try {
            if (forge.offer().isPresent()) {
                return;
            }
            if (offerAsked) {
                long now = System.nanoTime();
                if (now - nextOfferAskNanos < 0) {
                    return;
                }
                offerAskPauseNanos =
                        Math.min(Math.max(offerAskPauseNanos * 2, intervalNanos), MAX_OFFER_ASK_PAUSE.toNanos());
                nextOfferAskNanos = now + offerAskPauseNanos;
            }
            forge.refreshCatalog();
        } catch (RuntimeException e) {
            log.debug("Forge's lists not read: {}", e.toString());
        } finally {
            offerAsked = true;
        }
    }

    @Override
    public void start() {
        running = true;
        ThreadPools.start(offerReader, meters);
        offerReader.scheduleWithFixedDelay(
                this::readOffer, Instant.now(), Duration.ofMillis(Math.max(CHECK_MILLIS, intervalNanos / 1_000_000)));
        ThreadPools.start(timer, meters);
        timer.scheduleWithFixedDelay(
                this::tickQuietly, Instant.now().plusMillis(checkMillis), Duration.ofMillis(checkMillis));
    }

    /** After the job consumer stopped (its container's phase is higher, so it stops first): the last word is GONE. */
    @Override
    public void stop() {
        running = false;
        offerReader.shutdown();
        timer.shutdown(); // waits up to 2 s for an announcement in progress
        synchronized (this) {
            if (started) {
                send(WorkerState.GONE, null, System.nanoTime());
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
