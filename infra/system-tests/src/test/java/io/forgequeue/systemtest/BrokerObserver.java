package io.forgequeue.systemtest;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.Delivery;
import com.rabbitmq.client.Recoverable;
import com.rabbitmq.client.RecoveryListener;
import io.forgequeue.model.Topology;
import io.forgequeue.testsupport.RabbitEndpoint;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import tools.jackson.databind.JsonNode;

/**
 * The test's own view of the broker, in the system's virtual host: durable quorum queues of its own bound to
 * {@code forge.events} ({@code job.#}: every status event a worker published and the broker confirmed),
 * {@code forge.control} (every cancel and stop command) and the firehose {@code amq.rabbitmq.trace}
 * ({@code publish.}, the default exchange's copies, of which only those routed by a worker's queue name count: a copy
 * of every job message the scheduler published to a worker's queue, with the routing key and whether any queue took
 * it). Job messages are observed through the firehose because they travel through the default exchange
 * ({@link Topology#HANDOUT_EXCHANGE}), where nobody can bind a queue of their own; and the scheduler publishes them
 * mandatory to the worker's queue name and takes the assignment back when the message is returned (the worker's
 * queue is gone), a path a queue of ours taking the same messages would hide. The queues are consumed with manual
 * acks over a connection with automatic recovery, so they survive broker restarts (the firehose, which a node forgets
 * when it restarts, is turned on again after each recovery); a message delivered twice (after a recovery) is
 * recognised by its identity and recorded once ({@link #rawDeliveries()} counts every delivery). Also publishes
 * messages straight to exchanges (poison messages, replayed events), with publisher confirms, marked with the header
 * {@value #INJECTED_HEADER}.
 */
final class BrokerObserver implements AutoCloseable {

    static final String INJECTED_HEADER = "x-fq-test-injected";
    private static final String EVENTS_QUEUE = "fq.observer.events";
    private static final String JOBS_QUEUE = "fq.observer.jobs";
    private static final String CONTROL_QUEUE = "fq.observer.control";
    /** The firehose of a virtual host with tracing on: routing key {@code publish.<exchange>} per published message. */
    private static final String TRACE_EXCHANGE = "amq.rabbitmq.trace";

    /** One job message the scheduler published: a hand-out of {@code attempt} of a job to a worker. */
    record HandOut(String jobId, int attempt, String workerId, String routingKey, boolean routed, Instant receivedAt) {}

    /**
     * One command on {@code forge.control}: an owner's cancel ({@code attempt} and {@code workerId} null) or a stop of
     * one attempt meant for one worker.
     */
    record Command(String jobId, Integer attempt, String workerId, Instant receivedAt) {

        boolean isStop() {
            return attempt != null && workerId != null;
        }
    }

    /** One status event as published by a worker: its identity, key facts, and the exact message to replay it. */
    record Event(
            String type,
            String jobId,
            int attempt,
            long seq,
            String workerId,
            Instant occurredAt,
            String errorCode,
            String routingKey,
            AMQP.BasicProperties properties,
            byte[] body,
            Instant receivedAt) {

        String identity() {
            return jobId + "/" + attempt + "/" + seq + "/" + type;
        }

        boolean isOutcome() {
            return switch (type) {
                case "SUCCEEDED", "FAILED", "CANCELLED", "REQUEUED" -> true;
                default -> false;
            };
        }
    }

    private final Connection connection;
    private final Channel consumer;
    private final Channel publisher;
    private final Map<String, Event> events = new ConcurrentHashMap<>();
    private final List<Event> eventOrder = new CopyOnWriteArrayList<>();
    private final Map<String, HandOut> handOuts = new ConcurrentHashMap<>();
    private final List<HandOut> handOutOrder = new CopyOnWriteArrayList<>();
    private final AtomicLong jobMessageDeliveries = new AtomicLong();
    private final Map<String, Command> commands = new ConcurrentHashMap<>();
    private final List<Command> commandOrder = new CopyOnWriteArrayList<>();
    private final AtomicLong rawDeliveries = new AtomicLong();
    private final AtomicLong injectedSeen = new AtomicLong();
    private final List<Consumer<Event>> listeners = new CopyOnWriteArrayList<>();

    BrokerObserver(RabbitEndpoint endpoint, String name) {
        VirtualHosts.enableTracing(endpoint);
        ConnectionFactory factory = endpoint.connectionFactory();
        factory.setAutomaticRecoveryEnabled(true);
        factory.setTopologyRecoveryEnabled(true);
        factory.setNetworkRecoveryInterval(1000);
        factory.setRequestedHeartbeat(10);
        try {
            connection = factory.newConnection("fq-test-observer-" + name);
            ((Recoverable) connection).addRecoveryListener(new RecoveryListener() {
                @Override
                public void handleRecovery(Recoverable recoverable) {
                    try {
                        VirtualHosts.enableTracing(endpoint); // the restarted node forgot it
                    } catch (RuntimeException e) {
                        // the management API is not up yet: job messages go unobserved until the next recovery
                    }
                }

                @Override
                public void handleRecoveryStarted(Recoverable recoverable) {}
            });
            consumer = connection.createChannel();
            consumer.basicQos(500);
            declareExchanges(consumer);
            Map<String, Object> quorum = Map.of("x-queue-type", "quorum");
            consumer.queueDeclare(EVENTS_QUEUE, true, false, false, quorum);
            consumer.queueBind(EVENTS_QUEUE, Topology.EVENTS_EXCHANGE, Topology.PERSIST_BINDING);
            consumer.queueDeclare(JOBS_QUEUE, true, false, false, quorum);
            // the default exchange's name is empty: its firehose routing key is "publish."
            consumer.queueBind(JOBS_QUEUE, TRACE_EXCHANGE, "publish." + Topology.HANDOUT_EXCHANGE);
            consumer.queueDeclare(CONTROL_QUEUE, true, false, false, quorum);
            consumer.queueBind(CONTROL_QUEUE, Topology.CONTROL_EXCHANGE, "");
            consumer.basicConsume(EVENTS_QUEUE, false, (tag, d) -> handle(d, this::onEvent), tag -> {});
            consumer.basicConsume(JOBS_QUEUE, false, (tag, d) -> handle(d, this::onJobMessage), tag -> {});
            consumer.basicConsume(CONTROL_QUEUE, false, (tag, d) -> handle(d, this::onControl), tag -> {});
            publisher = connection.createChannel();
            publisher.confirmSelect();
        } catch (IOException | TimeoutException e) {
            throw new IllegalStateException("observer could not connect to " + endpoint, e);
        }
    }

    /** The exchanges exactly as gateway and worker declare them (idempotent). */
    private static void declareExchanges(Channel ch) throws IOException {
        ch.exchangeDeclare(Topology.EVENTS_EXCHANGE, "topic", true, false, null);
        ch.exchangeDeclare(Topology.CONTROL_EXCHANGE, "fanout", true, false, null);
    }

    private void handle(Delivery d, Consumer<Delivery> action) {
        rawDeliveries.incrementAndGet();
        try {
            action.accept(d);
        } catch (RuntimeException e) {
            // a message we cannot read is still acknowledged: the observer must never block a queue
        }
        try {
            consumer.basicAck(d.getEnvelope().getDeliveryTag(), false);
        } catch (IOException | RuntimeException e) {
            // channel lost (broker restart): the message comes again after recovery and is recognised then
        }
    }

    private void onEvent(Delivery d) {
        Map<String, Object> headers = d.getProperties().getHeaders();
        if (headers != null && headers.containsKey(INJECTED_HEADER)) {
            injectedSeen.incrementAndGet();
            return;
        }
        JsonNode n = Http.JSON.readTree(d.getBody());
        Event e = new Event(
                n.path("type").asString(""),
                n.path("jobId").asString(""),
                n.path("attempt").asInt(),
                n.path("seq").asLong(),
                n.path("workerId").asString(""),
                n.hasNonNull("occurredAt") ? Instant.parse(n.path("occurredAt").asString()) : null,
                n.hasNonNull("code") ? n.path("code").asString() : null,
                d.getEnvelope().getRoutingKey(),
                d.getProperties(),
                d.getBody(),
                Instant.now());
        if (events.putIfAbsent(e.identity(), e) == null) {
            eventOrder.add(e);
            listeners.forEach(l -> l.accept(e));
        }
    }

    /**
     * A firehose copy of a message published to the default exchange; the original's headers are in "properties".
     * Only those published to a worker's job queue are job messages.
     */
    private void onJobMessage(Delivery d) {
        Map<String, Object> trace = d.getProperties().getHeaders();
        if (trace == null) {
            return;
        }
        String routingKey =
                trace.get("routing_keys") instanceof List<?> keys && !keys.isEmpty() ? String.valueOf(keys.get(0)) : "";
        if (!Topology.isWorkerQueue(routingKey)) {
            return;
        }
        jobMessageDeliveries.incrementAndGet();
        if (trace.get("properties") instanceof Map<?, ?> original
                && original.get("headers") instanceof Map<?, ?> h
                && h.containsKey(INJECTED_HEADER)) {
            return;
        }
        boolean routed = trace.get("routed_queues") instanceof List<?> queues && !queues.isEmpty();
        HandOut h;
        try {
            JsonNode n = Http.JSON.readTree(d.getBody());
            h = new HandOut(
                    n.path("jobId").asString("?"),
                    n.path("attempt").asInt(),
                    n.path("workerId").asString(""),
                    routingKey,
                    routed,
                    Instant.now());
        } catch (RuntimeException e) {
            h = new HandOut("unreadable", 0, "", routingKey, routed, Instant.now());
        }
        if (handOuts.putIfAbsent(h.jobId() + "/" + h.attempt() + "/" + h.workerId(), h) == null) {
            handOutOrder.add(h);
        }
    }

    private void onControl(Delivery d) {
        JsonNode n = Http.JSON.readTree(d.getBody());
        Command c = new Command(
                n.path("jobId").asString("?"),
                n.hasNonNull("attempt") ? n.path("attempt").asInt() : null,
                n.hasNonNull("workerId") ? n.path("workerId").asString() : null,
                Instant.now());
        String identity = d.getProperties().getMessageId() != null
                ? d.getProperties().getMessageId()
                : c.jobId() + "/" + c.attempt() + "/" + c.workerId() + "/"
                        + n.path("requestedAt").asString("");
        if (commands.putIfAbsent(identity, c) == null) {
            commandOrder.add(c);
        }
    }

    /** Called (on the consumer thread) for every new event, in arrival order. */
    void onNewEvent(Consumer<Event> listener) {
        listeners.add(listener);
    }

    /** Every distinct event seen so far, in arrival order. */
    List<Event> events() {
        return List.copyOf(eventOrder);
    }

    List<Event> eventsOf(String jobId) {
        return eventOrder.stream().filter(e -> e.jobId().equals(jobId)).toList();
    }

    /** Distinct SUCCEEDED events per job id. */
    Map<String, Integer> succeededEventsPerJob() {
        Map<String, Integer> out = new HashMap<>();
        for (Event e : eventOrder) {
            if (e.type().equals("SUCCEEDED")) {
                out.merge(e.jobId(), 1, Integer::sum);
            }
        }
        return out;
    }

    /** Job ids of the job messages published to workers' queues, not counting our own. */
    Set<String> jobMessageIds() {
        Set<String> ids = new java.util.HashSet<>();
        handOutOrder.forEach(h -> ids.add(h.jobId()));
        return ids;
    }

    /** Every job message the scheduler published (one per hand-out), in arrival order. */
    List<HandOut> handOuts() {
        return List.copyOf(handOutOrder);
    }

    /** Every firehose copy of a job message to a worker's queue (ours included, a redelivery counts again). */
    long jobMessageDeliveries() {
        return jobMessageDeliveries.get();
    }

    /** Every command seen on {@code forge.control}, in arrival order. */
    List<Command> commands() {
        return List.copyOf(commandOrder);
    }

    Set<String> cancelCommandJobIds() {
        Set<String> ids = new java.util.HashSet<>();
        commandOrder.forEach(c -> ids.add(c.jobId()));
        return ids;
    }

    long rawDeliveries() {
        return rawDeliveries.get();
    }

    long injectedSeen() {
        return injectedSeen.get();
    }

    /** Publishes a message as is (with publisher confirms), marked as injected by the test. */
    void inject(String exchange, String routingKey, AMQP.BasicProperties properties, byte[] body) {
        Map<String, Object> headers = new LinkedHashMap<>();
        if (properties != null && properties.getHeaders() != null) {
            headers.putAll(properties.getHeaders());
        }
        headers.put(INJECTED_HEADER, 1);
        AMQP.BasicProperties base = properties == null ? new AMQP.BasicProperties() : properties;
        AMQP.BasicProperties marked =
                base.builder().headers(headers).deliveryMode(2).build();
        synchronized (publisher) {
            try {
                publisher.basicPublish(exchange, routingKey, marked, body);
                publisher.waitForConfirmsOrDie(10_000);
            } catch (IOException | InterruptedException | TimeoutException e) {
                if (e instanceof InterruptedException) {
                    Thread.currentThread().interrupt();
                }
                throw new IllegalStateException("could not publish to " + exchange + " / " + routingKey, e);
            }
        }
    }

    /** Replays a recorded event byte for byte (same routing key, content type and contract header). */
    void replay(Event e) {
        inject(Topology.EVENTS_EXCHANGE, e.routingKey(), e.properties(), e.body());
    }

    /** Messages ready in a queue of the system's virtual host (a passive declare; -1 when it does not exist). */
    long readyMessages(String queue) {
        try (Channel ch = connection.createChannel()) {
            return ch.queueDeclarePassive(queue).getMessageCount();
        } catch (IOException | TimeoutException | RuntimeException e) {
            return -1;
        }
    }

    /** Consumers of a queue (a passive declare; -1 when it does not exist). */
    long consumers(String queue) {
        try (Channel ch = connection.createChannel()) {
            return ch.queueDeclarePassive(queue).getConsumerCount();
        } catch (IOException | TimeoutException | RuntimeException e) {
            return -1;
        }
    }

    /** Waits until {@code condition} holds, polling; false when it did not within the timeout. */
    static boolean waitFor(Duration timeout, java.util.function.BooleanSupplier condition) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (condition.getAsBoolean()) {
                return true;
            }
            AppProcess.sleep(100);
        }
        return condition.getAsBoolean();
    }

    /** Waits until an event matching {@code p} has been seen and returns the first; fails after the timeout. */
    Event awaitEvent(java.util.function.Predicate<Event> p, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            for (Event e : eventOrder) {
                if (p.test(e)) {
                    return e;
                }
            }
            AppProcess.sleep(50);
        }
        throw new AssertionError("no matching event within " + timeout);
    }

    /**
     * The first RUNNING event of {@code jobId} from a worker other than {@code notBy} with an attempt above
     * {@code afterAttempt} (the job handed out again and started elsewhere), or null.
     */
    Event startedElsewhere(String jobId, int afterAttempt, String notBy) {
        for (Event e : eventOrder) {
            if (e.jobId().equals(jobId)
                    && e.type().equals("RUNNING")
                    && e.attempt() > afterAttempt
                    && !e.workerId().equals(notBy)) {
                return e;
            }
        }
        return null;
    }

    /** Distinct attempts of a job that a worker started (published RUNNING for): how often it ran on a GPU. */
    long runs(String jobId) {
        return eventOrder.stream()
                .filter(e -> e.jobId().equals(jobId) && e.type().equals("RUNNING"))
                .map(e -> e.attempt() + "/" + e.workerId())
                .distinct()
                .count();
    }

    /** Events whose job id is in {@code jobIds}, in arrival order. */
    List<Event> eventsOf(Set<String> jobIds) {
        List<Event> out = new ArrayList<>();
        for (Event e : eventOrder) {
            if (jobIds.contains(e.jobId())) {
                out.add(e);
            }
        }
        return out;
    }

    @Override
    public void close() {
        try {
            connection.close(5000);
        } catch (IOException | RuntimeException e) {
            connection.abort();
        }
    }
}
