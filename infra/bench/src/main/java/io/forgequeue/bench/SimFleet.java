package io.forgequeue.bench;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import io.forgequeue.model.Contract;
import io.forgequeue.model.GeneratedImage;
import io.forgequeue.model.JobEvent;
import io.forgequeue.model.JobMessage;
import io.forgequeue.model.JobStarted;
import io.forgequeue.model.JobSucceeded;
import io.forgequeue.model.Topology;
import io.forgequeue.model.WorkerState;
import io.forgequeue.model.WorkerStatus;
import io.forgequeue.testsupport.RabbitEndpoint;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.ObjectReader;
import tools.jackson.databind.ObjectWriter;
import tools.jackson.databind.cfg.EnumFeature;
import tools.jackson.databind.json.JsonMapper;

/**
 * N simulated GPU workers in this JVM that speak the real worker protocol to the real broker, so the scheduler sees
 * what it sees in production (docs/scheduling.md): each worker announces itself ({@link WorkerStatus} READY on
 * {@code worker.status}, every second and when what it runs changes, with a Forge offer: checkpoints, the loaded
 * one, measured load times, seconds per step, its own Forge identity), declares and consumes its own exclusive queue
 * {@code forge.jobs.worker.<id>} with prefetch 1, and "runs" each job for its planned time: steps x seconds per step,
 * plus the checkpoint's load time when the job's checkpoint is not the loaded one, all multiplied by the time factor.
 * It publishes RUNNING and SUCCEEDED (a tiny PNG) with the assignment's attempt and worker id, persistent, mandatory
 * and confirmed, and acks the job message only once the outcome is confirmed, like the real worker.
 *
 * <p>No HTTP and no Forge: the point is the gateway's scheduler under a fleet's traffic. Workers share a few AMQP
 * connections (a connection may own many exclusive queues); each connection has one consuming channel (prefetch 1
 * per consumer) and one confirming publisher channel. One small timer pool runs every worker's clock. Bounded: the
 * fleet stops when closed, and it only talks to the broker it was given (loopback).
 */
final class SimFleet implements AutoCloseable {

    /** A 1x1 PNG: the smallest valid outcome image. */
    static final byte[] TINY_PNG = Base64.getDecoder()
            .decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==");

    /**
     * How the simulated GPUs behave.
     *
     * @param workers           how many
     * @param pool              the pool they serve
     * @param checkpoints       what every worker's Forge offers
     * @param samplers          samplers every Forge offers
     * @param secondsPerStep    real seconds per step of a 512x512 image (before the time factor)
     * @param loadSeconds       real seconds to load a checkpoint (before the time factor)
     * @param timeFactor        simulated times are multiplied by this (above 1: slower than real GPUs, so this 2-core
     *                          machine measures the scheduler and not its own saturation)
     * @param connections       AMQP connections the workers share
     * @param announceMillis    announcement interval
     */
    record Config(
            int workers,
            String pool,
            List<String> checkpoints,
            List<String> samplers,
            double secondsPerStep,
            double loadSeconds,
            double timeFactor,
            int connections,
            long announceMillis) {}

    /** What the fleet did between two {@link #stats()} calls (cumulative counters). */
    record Stats(
            long jobsStarted,
            long jobsSucceeded,
            long switches,
            long generatingMillis,
            long loadingMillis,
            long statusesSent,
            long eventsUnconfirmed,
            long messagesUnreadable) {}

    private final Config config;
    private final RabbitEndpoint broker;
    private final String runId;
    private final JsonMapper json = JsonMapper.builder()
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(EnumFeature.READ_UNKNOWN_ENUM_VALUES_USING_DEFAULT_VALUE)
            .changeDefaultPropertyInclusion(incl -> incl.withValueInclusion(JsonInclude.Include.NON_NULL))
            .build();
    private final ObjectWriter eventWriter = json.writerFor(JobEvent.class);
    private final ObjectWriter statusWriter = json.writerFor(WorkerStatus.class);
    private final ObjectReader messageReader = json.readerFor(JobMessage.class);
    private final List<Link> links = new ArrayList<>();
    private final List<SimWorker> workers = new ArrayList<>();
    private final ScheduledExecutorService clock;
    private final AtomicLong started = new AtomicLong();
    private final AtomicLong succeeded = new AtomicLong();
    private final AtomicLong switches = new AtomicLong();
    private final AtomicLong generatingMillis = new AtomicLong();
    private final AtomicLong loadingMillis = new AtomicLong();
    private final AtomicLong statuses = new AtomicLong();
    private final AtomicLong unconfirmed = new AtomicLong();
    private final AtomicLong unreadable = new AtomicLong();
    private volatile boolean closed;

    private SimFleet(Config config, RabbitEndpoint broker, String runId) {
        this.config = config;
        this.broker = broker;
        this.runId = runId;
        this.clock = Executors.newScheduledThreadPool(2, r -> {
            Thread t = new Thread(r, "sim-clock");
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Connects, declares every worker's queue, starts consuming and announcing. Worker ids are
     * {@code sim-<runId>-<n>}; worker n starts with checkpoint n mod |checkpoints| loaded.
     */
    static SimFleet start(Config config, RabbitEndpoint broker, String runId) {
        SimFleet fleet = new SimFleet(config, broker, runId);
        try {
            fleet.open();
            return fleet;
        } catch (IOException | RuntimeException e) {
            fleet.close();
            throw new IllegalStateException("simulated fleet did not start: " + e, e);
        }
    }

    private void open() throws IOException {
        ConnectionFactory factory = new ConnectionFactory();
        factory.setHost(broker.host());
        factory.setPort(broker.port());
        factory.setUsername(broker.username());
        factory.setPassword(broker.password());
        factory.setVirtualHost(broker.virtualHost());
        factory.setAutomaticRecoveryEnabled(false);
        factory.setRequestedHeartbeat(30);
        int perLink = (config.workers() + config.connections() - 1) / config.connections();
        for (int c = 0; c < config.connections(); c++) {
            Connection connection;
            try {
                connection = factory.newConnection("sim-fleet-" + c);
            } catch (java.util.concurrent.TimeoutException e) {
                throw new IOException("connection timed out", e);
            }
            links.add(new Link(connection));
        }
        for (int i = 0; i < config.workers(); i++) {
            Link link = links.get(i / perLink);
            SimWorker w = new SimWorker(
                    "sim-" + runId + "-" + (i + 1),
                    link,
                    config.checkpoints().get(i % config.checkpoints().size()));
            workers.add(w);
            link.declare(w);
        }
        long interval = config.announceMillis();
        for (int i = 0; i < workers.size(); i++) {
            SimWorker w = workers.get(i);
            long offset = interval * i / workers.size(); // spread the fleet's announcements over the interval
            clock.scheduleAtFixedRate(w::announce, offset, interval, TimeUnit.MILLISECONDS);
        }
    }

    List<String> workerIds() {
        return workers.stream().map(w -> w.id).toList();
    }

    Config config() {
        return config;
    }

    Stats stats() {
        return new Stats(
                started.get(),
                succeeded.get(),
                switches.get(),
                generatingMillis.get(),
                loadingMillis.get(),
                statuses.get(),
                unconfirmed.get(),
                unreadable.get());
    }

    /** Simulated real time of {@code seconds} of GPU time, in milliseconds. */
    private long scaled(double seconds) {
        return Math.max(1, Math.round(seconds * config.timeFactor() * 1000));
    }

    @Override
    public void close() {
        closed = true;
        clock.shutdownNow();
        for (Link link : links) {
            try {
                link.connection.close(2000);
            } catch (IOException | RuntimeException e) {
                // closing anyway
            }
        }
    }

    /** One AMQP connection: a consuming channel and a confirming publisher channel shared by its workers. */
    private final class Link {
        final Connection connection;
        final Channel consume;
        final Channel publish;
        /** Confirm callbacks by publish sequence number; the value gets true on ack, false on nack or return. */
        final ConcurrentSkipListMap<Long, java.util.function.Consumer<Boolean>> pending = new ConcurrentSkipListMap<>();

        Link(Connection connection) throws IOException {
            this.connection = connection;
            this.consume = connection.createChannel();
            this.consume.basicQos(1, false); // per consumer: each worker holds one job message at a time
            this.publish = connection.createChannel();
            this.publish.confirmSelect();
            this.publish.addConfirmListener(
                    (seq, multiple) -> confirmed(seq, multiple, true),
                    (seq, multiple) -> confirmed(seq, multiple, false));
            this.publish.addReturnListener(r -> unconfirmed.incrementAndGet());
        }

        void declare(SimWorker w) throws IOException {
            String queue = Topology.workerQueue(w.id);
            consume.queueDeclare(queue, false, true, true, Topology.workerQueueArguments(config.pool()));
            // no binding: the scheduler hands out through the default exchange (routing key = this queue's name)
            consume.basicConsume(queue, false, "sim-" + w.id, new DefaultConsumer(consume) {
                @Override
                public void handleDelivery(String tag, Envelope envelope, AMQP.BasicProperties props, byte[] body) {
                    w.received(envelope.getDeliveryTag(), body);
                }
            });
        }

        private void confirmed(long seq, boolean multiple, boolean ack) {
            if (multiple) {
                var head = pending.headMap(seq, true);
                List<java.util.function.Consumer<Boolean>> done = new ArrayList<>(head.values());
                head.clear();
                done.forEach(c -> clock.execute(() -> c.accept(ack)));
            } else {
                var c = pending.remove(seq);
                if (c != null) {
                    clock.execute(() -> c.accept(ack));
                }
            }
        }

        /** Publishes and calls {@code onConfirm} (on the clock) with the broker's answer; null: fire and forget. */
        void send(
                String routingKey,
                byte[] body,
                AMQP.BasicProperties props,
                boolean mandatory,
                java.util.function.Consumer<Boolean> onConfirm) {
            synchronized (publish) {
                try {
                    long seq = publish.getNextPublishSeqNo();
                    if (onConfirm != null) {
                        pending.put(seq, onConfirm);
                    }
                    publish.basicPublish(Topology.EVENTS_EXCHANGE, routingKey, mandatory, props, body);
                } catch (IOException | RuntimeException e) {
                    if (!closed) {
                        unconfirmed.incrementAndGet();
                    }
                }
            }
        }

        void ack(long deliveryTag) {
            synchronized (consume) {
                try {
                    consume.basicAck(deliveryTag, false);
                } catch (IOException | RuntimeException e) {
                    // the connection is closing
                }
            }
        }
    }

    /** Properties of a simulated worker's message; user_id is the broker user, as a real worker sets it. */
    private AMQP.BasicProperties props(boolean persistent, String messageId, String type) {
        Map<String, Object> headers = new HashMap<>();
        headers.put(Contract.VERSION_HEADER, Contract.VERSION);
        return new AMQP.BasicProperties.Builder()
                .contentType(Contract.CONTENT_TYPE)
                .contentEncoding("UTF-8")
                .deliveryMode(persistent ? 2 : 1)
                .headers(headers)
                .appId("gpu-worker-sim")
                .messageId(messageId)
                .userId(broker.username())
                .type(type)
                .timestamp(new Date())
                .build();
    }

    /** One simulated worker: its Forge, its loaded checkpoint, the job it runs. State guarded by itself. */
    private final class SimWorker {
        final String id;
        final Link link;
        final UUID instance = UUID.randomUUID();
        final Map<String, Double> loadTimes = new LinkedHashMap<>();
        long seq;
        String loaded;
        WorkerStatus.Assignment running;
        boolean offerChanged = true;

        SimWorker(String id, Link link, String loaded) {
            this.id = id;
            this.link = link;
            this.loaded = loaded;
            for (String c : config.checkpoints()) {
                loadTimes.put(c, config.loadSeconds()); // as measured by the worker (GPU seconds, not scaled)
            }
        }

        /** A job message arrived (prefetch 1: the next one comes after the ack). */
        void received(long deliveryTag, byte[] body) {
            JobMessage message;
            try {
                message = messageReader.readValue(body);
            } catch (RuntimeException e) {
                unreadable.incrementAndGet();
                link.ack(deliveryTag);
                return;
            }
            String checkpoint = message.spec().checkpoint();
            boolean switching;
            synchronized (this) {
                switching = checkpoint != null && !checkpoint.equals(loaded);
                running = new WorkerStatus.Assignment(message.jobId(), message.attempt());
            }
            started.incrementAndGet();
            sendEvent(
                    new JobStarted(
                            message.jobId(),
                            message.attempt(),
                            id,
                            1,
                            Instant.now(),
                            Map.of("pool", config.pool(), "workerVersion", "sim")),
                    null);
            announce();
            double units = (double) message.spec().width()
                    * message.spec().height()
                    / (512.0 * 512.0)
                    * Math.max(1, message.spec().batchSize());
            long generate = scaled(message.spec().steps() * config.secondsPerStep() * units);
            long load = switching ? scaled(loadTimes.getOrDefault(checkpoint, config.loadSeconds())) : 0;
            if (switching) {
                switches.incrementAndGet();
            }
            clock.schedule(() -> finish(deliveryTag, message, generate, load), generate + load, TimeUnit.MILLISECONDS);
        }

        private void finish(long deliveryTag, JobMessage message, long generate, long load) {
            if (closed) {
                return;
            }
            synchronized (this) {
                if (message.spec().checkpoint() != null) {
                    loaded = message.spec().checkpoint();
                    offerChanged = true;
                }
            }
            generatingMillis.addAndGet(generate);
            loadingMillis.addAndGet(load);
            JobSucceeded outcome = new JobSucceeded(
                    message.jobId(),
                    message.attempt(),
                    id,
                    2,
                    Instant.now(),
                    List.of(new GeneratedImage(0, message.spec().seed(), "image/png", 1, 1, TINY_PNG)),
                    Map.of(
                            "sdModelName",
                            message.spec().checkpoint() == null
                                    ? "sim"
                                    : message.spec().checkpoint(),
                            "forgeMillis",
                            generate + load));
            sendEvent(outcome, ok -> {
                if (!ok) {
                    unconfirmed.incrementAndGet();
                }
                succeeded.incrementAndGet();
                synchronized (this) {
                    running = null;
                }
                link.ack(deliveryTag); // after the outcome is the broker's: the next job message may come
                announce();
            });
        }

        private void sendEvent(JobEvent event, java.util.function.Consumer<Boolean> onConfirm) {
            link.send(
                    event.routingKey(),
                    eventWriter.writeValueAsBytes(event),
                    props(
                            true,
                            event.jobId() + "/" + event.attempt() + "/" + event.seq(),
                            event.type().name()),
                    true,
                    onConfirm == null
                            ? ok -> {
                                if (!ok) {
                                    unconfirmed.incrementAndGet();
                                }
                            }
                            : onConfirm);
        }

        /** Announces this worker (also called on every change of what it runs). */
        void announce() {
            if (closed) {
                return;
            }
            WorkerStatus status;
            synchronized (this) {
                WorkerStatus.ForgeOffer offer = null;
                if (offerChanged || seq % 10 == 0) {
                    offer = new WorkerStatus.ForgeOffer(
                            "http://forge-" + id + ".sim",
                            config.checkpoints(),
                            config.samplers(),
                            List.of("Automatic"),
                            loaded,
                            loadTimes,
                            config.secondsPerStep());
                    offerChanged = false;
                }
                status = new WorkerStatus(
                        id,
                        instance,
                        config.pool(),
                        WorkerState.READY,
                        ++seq,
                        running,
                        offer,
                        config.announceMillis(),
                        Instant.now());
            }
            statuses.incrementAndGet();
            link.send(
                    Topology.WORKER_STATUS_ROUTING_KEY,
                    statusWriter.writeValueAsBytes(status),
                    props(false, null, null),
                    false,
                    null);
        }
    }
}
