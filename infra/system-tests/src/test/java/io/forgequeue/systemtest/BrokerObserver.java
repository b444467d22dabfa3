package io.forgequeue.systemtest;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.Delivery;
import io.forgequeue.model.Topology;
import io.forgequeue.testsupport.RabbitEndpoint;
import tools.jackson.databind.JsonNode;

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

/**
 * The test's own view of the broker, in the system's virtual host: durable quorum queues of its own bound to
 * {@code forge.events} ({@code job.#}: every status event a worker published and the broker confirmed),
 * {@code forge.jobs} (routing key {@code default}: every job message published) and {@code forge.control} (every
 * cancel command). The queues are consumed with manual acks over a connection with automatic recovery, so they
 * survive broker restarts; a message delivered twice (after a recovery) is recognised by its identity and recorded
 * once ({@link #rawDeliveries()} counts every delivery). Also publishes messages straight to exchanges (poison
 * messages, replayed events), with publisher confirms, marked with the header {@value #INJECTED_HEADER}.
 */
final class BrokerObserver implements AutoCloseable {

    static final String INJECTED_HEADER = "x-fq-test-injected";
    private static final String EVENTS_QUEUE = "fq.observer.events";
    private static final String JOBS_QUEUE = "fq.observer.jobs";
    private static final String CONTROL_QUEUE = "fq.observer.control";

    /** One status event as published by a worker: its identity, key facts, and the exact message to replay it. */
    record Event(String type, String jobId, int attempt, long seq, String workerId, Instant occurredAt,
                 String errorCode, String routingKey, AMQP.BasicProperties properties, byte[] body, Instant receivedAt) {

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
    private final Set<String> jobMessages = ConcurrentHashMap.newKeySet();
    private final AtomicLong jobMessageDeliveries = new AtomicLong();
    private final Set<String> cancelCommands = ConcurrentHashMap.newKeySet();
    private final AtomicLong rawDeliveries = new AtomicLong();
    private final AtomicLong injectedSeen = new AtomicLong();
    private final List<Consumer<Event>> listeners = new CopyOnWriteArrayList<>();

    BrokerObserver(RabbitEndpoint endpoint, String name) {
        ConnectionFactory factory = endpoint.connectionFactory();
        factory.setAutomaticRecoveryEnabled(true);
        factory.setTopologyRecoveryEnabled(true);
        factory.setNetworkRecoveryInterval(1000);
        factory.setRequestedHeartbeat(10);
        try {
            connection = factory.newConnection("fq-test-observer-" + name);
            consumer = connection.createChannel();
            consumer.basicQos(500);
            declareExchanges(consumer);
            Map<String, Object> quorum = Map.of("x-queue-type", "quorum");
            consumer.queueDeclare(EVENTS_QUEUE, true, false, false, quorum);
            consumer.queueBind(EVENTS_QUEUE, Topology.EVENTS_EXCHANGE, Topology.PERSIST_BINDING);
            consumer.queueDeclare(JOBS_QUEUE, true, false, false, quorum);
            consumer.queueBind(JOBS_QUEUE, Topology.JOBS_EXCHANGE, Topology.DEFAULT_POOL);
            consumer.queueDeclare(CONTROL_QUEUE, true, false, false, quorum);
            consumer.queueBind(CONTROL_QUEUE, Topology.CONTROL_EXCHANGE, "");
            consumer.basicConsume(EVENTS_QUEUE, false, (tag, d) -> handle(d, this::onEvent), tag -> { });
            consumer.basicConsume(JOBS_QUEUE, false, (tag, d) -> handle(d, this::onJobMessage), tag -> { });
            consumer.basicConsume(CONTROL_QUEUE, false, (tag, d) -> handle(d, this::onControl), tag -> { });
            publisher = connection.createChannel();
            publisher.confirmSelect();
        } catch (IOException | TimeoutException e) {
            throw new IllegalStateException("observer could not connect to " + endpoint, e);
        }
    }

    /** The exchanges exactly as gateway and worker declare them (idempotent). */
    private static void declareExchanges(Channel ch) throws IOException {
        ch.exchangeDeclare(Topology.JOBS_EXCHANGE, "direct", true, false, null);
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
        Event e = new Event(n.path("type").asString(""), n.path("jobId").asString(""), n.path("attempt").asInt(),
                n.path("seq").asLong(), n.path("workerId").asString(""),
                n.hasNonNull("occurredAt") ? Instant.parse(n.path("occurredAt").asString()) : null,
                n.hasNonNull("code") ? n.path("code").asString() : null,
                d.getEnvelope().getRoutingKey(), d.getProperties(), d.getBody(), Instant.now());
        if (events.putIfAbsent(e.identity(), e) == null) {
            eventOrder.add(e);
            listeners.forEach(l -> l.accept(e));
        }
    }

    private void onJobMessage(Delivery d) {
        jobMessageDeliveries.incrementAndGet();
        Map<String, Object> headers = d.getProperties().getHeaders();
        if (headers != null && headers.containsKey(INJECTED_HEADER)) {
            return;
        }
        try {
            JsonNode n = Http.JSON.readTree(d.getBody());
            jobMessages.add(n.path("jobId").asString("?"));
        } catch (RuntimeException e) {
            jobMessages.add("unreadable");
        }
    }

    private void onControl(Delivery d) {
        JsonNode n = Http.JSON.readTree(d.getBody());
        cancelCommands.add(n.path("jobId").asString("?"));
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

    /** Job ids of the job messages published to {@code forge.jobs} (routing key default), not counting our own. */
    Set<String> jobMessageIds() {
        return Set.copyOf(jobMessages);
    }

    /** Every delivery from {@code forge.jobs} (a republished outbox entry counts again). */
    long jobMessageDeliveries() {
        return jobMessageDeliveries.get();
    }

    Set<String> cancelCommandJobIds() {
        return Set.copyOf(cancelCommands);
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
        AMQP.BasicProperties marked = base.builder().headers(headers).deliveryMode(2).build();
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
