package io.forgequeue.gateway;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.Delivery;
import io.forgequeue.model.Contract;
import io.forgequeue.model.JobEvent;
import io.forgequeue.model.JobMessage;
import io.forgequeue.model.JobPreview;
import io.forgequeue.model.Topology;
import io.forgequeue.model.WorkerState;
import io.forgequeue.model.WorkerStatus;
import io.forgequeue.testsupport.RabbitEndpoint;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Plays a gpu-worker against the gateway's scheduler, on a broker connection of its own, the way the real worker
 * does it (docs/scheduling.md):
 * <ul>
 *   <li>declares its own job queue {@code forge.jobs.worker.<id>} (exclusive to its connection, so it goes with the
 *       connection; the scheduler publishes to it through the default exchange, so it binds nothing), and consumes
 *       it with prefetch 1: it holds one delivered job message at a time until the test settles it (an outcome or a
 *       give-back published through its {@link JobAttempt} does), then the broker delivers the next;</li>
 *   <li>announces itself ({@link WorkerStatus} on {@code worker.status} to {@code forge.events}) every
 *       {@link #INTERVAL} from a background thread while alive, with its pool, instance, state, the assignment it
 *       holds and, when given, its Forge offer;</li>
 *   <li>hands every job message it receives to the test as a {@link JobAttempt} ({@link #next()}), whose events
 *       carry the assignment's attempt and this worker's id.</li>
 * </ul>
 * The test can make it fall silent ({@link #stopAnnouncing()}, as if killed or frozen), pause and resume, say
 * goodbye, drop messages (as if they were lost), restart as a new instance, or run every job to success on its own
 * ({@link Builder#autoRun()}). Thread-safe.
 */
final class TestWorker implements AutoCloseable {

    /** How often it announces itself (the real worker: 1 s; see {@link Gateways#PRESENCE_TIMEOUT}). */
    static final Duration INTERVAL = Duration.ofMillis(250);
    /** How long {@link #next()} waits for a job message. */
    static final Duration WAIT = Duration.ofSeconds(20);

    private final RabbitEndpoint rabbit;
    private final String id;
    private final String pool;
    private final WorkerStatus.ForgeOffer offer;
    private boolean autoRun;
    private final LinkedBlockingQueue<JobAttempt> deliveries = new LinkedBlockingQueue<>();
    private final List<JobMessage> received = new CopyOnWriteArrayList<>();
    private final List<JobMessage> dropped = new CopyOnWriteArrayList<>();
    private final AtomicInteger toDrop = new AtomicInteger();
    private final AtomicLong seq = new AtomicLong();
    private final ScheduledExecutorService announcer;
    private final ExecutorService runner;
    private volatile UUID instance = UUID.randomUUID();
    private volatile WorkerState state = WorkerState.READY;
    private volatile boolean announcing;
    private volatile boolean closed;
    private volatile Held holding;
    private Connection connection;
    private Channel consumer;
    private Channel status;
    private Channel events;
    private int generation;

    /** The delivery the worker holds (reports as running) until it is settled. */
    private record Held(int generation, long tag, WorkerStatus.Assignment assignment) {}

    private TestWorker(Builder b) {
        this.rabbit = b.rabbit;
        this.id = b.id;
        this.pool = b.pool;
        this.offer = b.offer;
        this.autoRun = b.autoRun;
        this.announcer = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "test-worker-" + id));
        this.runner = Executors.newSingleThreadExecutor(r -> daemon(r, "test-worker-run-" + id));
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /** A worker of {@code pool} with a random id, no Forge offer (it takes any checkpoint and sampler). */
    static Builder in(RabbitEndpoint rabbit, String pool) {
        return new Builder(rabbit, pool);
    }

    static final class Builder {
        private final RabbitEndpoint rabbit;
        private final String pool;
        private String id = "w-" + UUID.randomUUID().toString().substring(0, 8);
        private WorkerStatus.ForgeOffer offer;
        private boolean autoRun;
        private Consumer<TestWorker> onStart = w -> {};

        private Builder(RabbitEndpoint rabbit, String pool) {
            this.rabbit = rabbit;
            this.pool = pool;
        }

        Builder id(String workerId) {
            this.id = workerId;
            return this;
        }

        /** What its Forge offers ({@code identity} may be null; empty lists mean "unknown": anything goes). */
        Builder offer(String identity, List<String> checkpoints, List<String> samplers) {
            this.offer = new WorkerStatus.ForgeOffer(identity, checkpoints, samplers, List.of(), null, Map.of(), null);
            return this;
        }

        /** Runs every job it receives to success at once (RUNNING, SUCCEEDED) and takes the next. */
        Builder autoRun() {
            this.autoRun = true;
            return this;
        }

        Builder onStart(Consumer<TestWorker> hook) {
            this.onStart = onStart.andThen(hook);
            return this;
        }

        /** Connects, declares and consumes its queue, then starts announcing itself as READY. */
        TestWorker start() {
            TestWorker worker = new TestWorker(this);
            try {
                worker.connect();
            } catch (RuntimeException e) {
                worker.close();
                throw e;
            }
            worker.announcer.scheduleAtFixedRate(
                    worker::announceIfAlive, 0, INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
            onStart.accept(worker);
            return worker;
        }
    }

    String id() {
        return id;
    }

    String pool() {
        return pool;
    }

    UUID instance() {
        return instance;
    }

    // ------------------------------------------------------------------------------------------ the connection

    private synchronized void connect() {
        try {
            var factory = rabbit.connectionFactory();
            factory.setAutomaticRecoveryEnabled(false);
            connection = factory.newConnection("test-worker-" + id);
            int gen = ++generation;
            status = connection.createChannel();
            events = connection.createChannel();
            consumer = connection.createChannel();
            // as the real worker (SharedTopologyGate), start only once a gateway has declared the exchange it
            // announces itself on: an announcement to a missing exchange would close its channel for good
            status.exchangeDeclarePassive(Topology.EVENTS_EXCHANGE);
            String queue = Topology.workerQueue(id);
            consumer.queueDeclare(queue, false, true, true, Topology.workerQueueArguments(pool));
            consumer.basicQos(1);
            consumer.basicConsume(queue, false, (tag, delivery) -> onDelivery(gen, delivery), tag -> {});
            announcing = true;
        } catch (IOException | TimeoutException e) {
            closeConnection();
            throw new IllegalStateException("test worker " + id + " cannot connect to " + rabbit, e);
        }
    }

    private synchronized void closeConnection() {
        announcing = false;
        holding = null;
        try {
            if (connection != null && connection.isOpen()) {
                connection.close(2000);
            }
        } catch (IOException | RuntimeException e) {
            // closing anyway
        }
        connection = null;
    }

    private void onDelivery(int gen, Delivery delivery) {
        JobMessage message = JobAttempt.WIRE.readValue(delivery.getBody(), JobMessage.class);
        received.add(message);
        long tag = delivery.getEnvelope().getDeliveryTag();
        if (toDrop.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            dropped.add(message);
            ack(gen, tag);
            return;
        }
        Held held = new Held(gen, tag, new WorkerStatus.Assignment(message.jobId(), message.attempt()));
        holding = held;
        JobAttempt attempt = new JobAttempt(
                message, delivery.getProperties(), this::publishEvents, this::publishPreview, () -> settle(held));
        synchronized (deliveries) {
            if (autoRun) {
                runner.execute(attempt::succeed);
            } else {
                deliveries.add(attempt);
            }
        }
    }

    /**
     * From now on runs every job it receives to success at once, beginning with those received and not taken by
     * the test yet.
     */
    void runEverything() {
        synchronized (deliveries) {
            autoRun = true;
            for (JobAttempt pending; (pending = deliveries.poll()) != null; ) {
                runner.execute(pending::succeed);
            }
        }
    }

    private synchronized void settle(Held held) {
        if (holding == held) {
            holding = null;
        }
        ack(held.generation(), held.tag());
    }

    private synchronized void ack(int gen, long tag) {
        if (gen != generation || consumer == null || !consumer.isOpen()) {
            return; // a message of an earlier connection: the broker took it back when that connection closed
        }
        try {
            consumer.basicAck(tag, false);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private void publishEvents(List<JobEvent> list) {
        Channel channel;
        synchronized (this) {
            channel = events;
        }
        JobAttempt.publish(channel, rabbit.username(), list);
    }

    private void publishPreview(JobPreview preview) {
        Channel channel;
        synchronized (this) {
            channel = events;
        }
        JobAttempt.publishPreview(channel, rabbit.username(), preview);
    }

    // ------------------------------------------------------------------------------------------ announcements

    private void announceIfAlive() {
        if (announcing && !closed) {
            try {
                announce();
            } catch (RuntimeException e) {
                // the next one will do (as the real worker: fire and forget)
            }
        }
    }

    /** Sends one status now. */
    synchronized void announce() {
        if (connection == null) {
            return;
        }
        Held held = holding;
        WorkerStatus s = new WorkerStatus(
                id,
                instance,
                pool,
                state,
                seq.incrementAndGet(),
                state == WorkerState.GONE || held == null ? null : held.assignment(),
                offer,
                INTERVAL.toMillis(),
                Instant.now());
        AMQP.BasicProperties props = new AMQP.BasicProperties.Builder()
                .contentType(Contract.CONTENT_TYPE)
                .deliveryMode(1)
                .userId(rabbit.username())
                .headers(Map.of(Contract.VERSION_HEADER, Contract.VERSION))
                .build();
        try {
            status.basicPublish(
                    Topology.EVENTS_EXCHANGE,
                    Topology.WORKER_STATUS_ROUTING_KEY,
                    props,
                    JobAttempt.WIRE.writeValueAsBytes(s));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Publishes one announcement of a worker that is not a {@code TestWorker} (for example one that never declares
     * its queue) on {@code channel}, as a worker's WorkerAnnouncer does, and waits for the broker's confirm.
     */
    static void announce(Channel channel, WorkerStatus status) {
        announce(channel, status, JobAttempt.brokerUser());
    }

    /** As {@link #announce(Channel, WorkerStatus)}, published as {@code user} (user_id). */
    static void announce(Channel channel, WorkerStatus status, String user) {
        AMQP.BasicProperties props = new AMQP.BasicProperties.Builder()
                .contentType(Contract.CONTENT_TYPE)
                .deliveryMode(1)
                .userId(user)
                .headers(Map.of(Contract.VERSION_HEADER, Contract.VERSION))
                .build();
        try {
            channel.confirmSelect();
            channel.basicPublish(
                    Topology.EVENTS_EXCHANGE,
                    Topology.WORKER_STATUS_ROUTING_KEY,
                    false,
                    props,
                    JobAttempt.WIRE.writeValueAsBytes(status));
            channel.waitForConfirmsOrDie(10_000);
        } catch (IOException | InterruptedException | TimeoutException e) {
            throw new IllegalStateException("could not publish the worker status", e);
        }
    }

    /** Falls silent (as if killed or frozen); its connection, queue and held message stay. */
    void stopAnnouncing() {
        announcing = false;
    }

    /** Announces itself again (as a frozen worker that wakes up: same instance). */
    void resumeAnnouncing() {
        announcing = true;
        announce();
    }

    /** Its Forge went away: announces PAUSED (it keeps the message it holds). */
    void pause() {
        state = WorkerState.PAUSED;
        announce();
    }

    /** Its Forge is back: purges its own queue (what was assigned before is taken back), then announces READY. */
    void resume() {
        synchronized (this) {
            try {
                consumer.queuePurge(Topology.workerQueue(id));
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }
        state = WorkerState.READY;
        announce();
    }

    /** Says goodbye (GONE) and falls silent; the connection stays until {@link #close()}. */
    void goodbye() {
        state = WorkerState.GONE;
        announce();
        announcing = false;
    }

    /** The next {@code count} job messages are acked and thrown away unseen (as if lost on the way). */
    void dropNext(int count) {
        toDrop.set(count);
    }

    /**
     * Restarts as a new instance with the same id: the connection closes (its queue and what was in it go with it,
     * the held message goes back to the broker, then nowhere), a new one declares the queue again, and the worker
     * announces itself with a new instance id.
     */
    TestWorker restart() {
        closeConnection();
        deliveries.clear();
        instance = UUID.randomUUID();
        seq.set(0);
        state = WorkerState.READY;
        connect();
        announce();
        return this;
    }

    // ------------------------------------------------------------------------------------------ for the test

    /** The next job message it received (in delivery order), as an attempt to report on; fails after {@link #WAIT}. */
    JobAttempt next() {
        JobAttempt attempt = poll(WAIT);
        if (attempt == null) {
            throw new AssertionError(
                    "worker " + id + " received no job within " + WAIT.toSeconds() + " s (received: " + received + ")");
        }
        return attempt;
    }

    /** The next job message it received, or null when none arrives within {@code wait}. */
    JobAttempt poll(Duration wait) {
        try {
            return deliveries.poll(wait.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** Every job message delivered to it so far, in delivery order (also the dropped ones). */
    List<JobMessage> received() {
        return List.copyOf(received);
    }

    /** The job messages it dropped. */
    List<JobMessage> dropped() {
        return List.copyOf(dropped);
    }

    /** The assignment it reports as held, or null. */
    WorkerStatus.Assignment holding() {
        Held held = holding;
        return held == null ? null : held.assignment();
    }

    /** Ids of the jobs it received, in delivery order. */
    List<UUID> receivedJobs() {
        List<UUID> ids = new ArrayList<>();
        received.forEach(m -> ids.add(m.jobId()));
        return ids;
    }

    /** Says goodbye (unless it fell silent or left already) and disconnects. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        if (announcing && state != WorkerState.GONE) {
            try {
                goodbye();
            } catch (RuntimeException e) {
                // disconnecting anyway
            }
        }
        closed = true;
        announcer.shutdownNow();
        runner.shutdownNow();
        closeConnection();
    }

    @Override
    public String toString() {
        return "TestWorker[" + id + " in " + pool + "]";
    }
}
