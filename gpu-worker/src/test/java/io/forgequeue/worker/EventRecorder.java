package io.forgequeue.worker;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.BuiltinExchangeType;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.DeliverCallback;
import io.forgequeue.model.Contract;
import io.forgequeue.model.EventType;
import io.forgequeue.model.JobEvent;
import io.forgequeue.model.JobPreview;
import io.forgequeue.model.Topology;
import io.forgequeue.model.WorkerStatus;
import io.forgequeue.testsupport.RabbitEndpoint;
import io.forgequeue.worker.system.WireJson;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.function.Predicate;
import tools.jackson.databind.json.JsonMapper;

/**
 * Watches everything on {@link Topology#EVENTS_EXCHANGE} through its own queue bound with {@code #}, the way a
 * test observes the worker from outside: job events, previews and the workers' announcements ({@link WorkerStatus}),
 * each kept in arrival order; checks the contract header on each.
 */
final class EventRecorder implements AutoCloseable {

    private final Connection connection;
    private final Channel channel;
    private final JsonMapper json = WireJson.newMapper();
    private final List<JobEvent> events = new CopyOnWriteArrayList<>();
    private final List<JobPreview> previews = new CopyOnWriteArrayList<>();
    private final List<WorkerStatus> statuses = new CopyOnWriteArrayList<>();
    private final List<Consumer<WorkerStatus>> statusListeners = new CopyOnWriteArrayList<>();
    private final List<String> problems = new CopyOnWriteArrayList<>();
    private final java.util.Set<String> publishers = java.util.concurrent.ConcurrentHashMap.newKeySet();

    EventRecorder(RabbitEndpoint rabbit) throws Exception {
        connection = rabbit.connectionFactory().newConnection("event-recorder");
        channel = connection.createChannel();
        channel.exchangeDeclare(Topology.EVENTS_EXCHANGE, BuiltinExchangeType.TOPIC, true);
        String queue = channel.queueDeclare("", false, true, true, null).getQueue();
        channel.queueBind(queue, Topology.EVENTS_EXCHANGE, "#");
        DeliverCallback onDelivery = (tag, delivery) -> {
            AMQP.BasicProperties props = delivery.getProperties();
            String key = delivery.getEnvelope().getRoutingKey();
            publishers.add(key.split("\\.")[0] + ":" + props.getUserId());
            Object version =
                    props.getHeaders() == null ? null : props.getHeaders().get(Contract.VERSION_HEADER);
            if (!(version instanceof Number n)
                    || n.intValue() != Contract.VERSION
                    || !Contract.CONTENT_TYPE.equals(props.getContentType())) {
                problems.add(key + " without contract header/content type: " + props);
            }
            try {
                if (key.equals(Topology.PREVIEW_ROUTING_KEY)) {
                    previews.add(json.readValue(delivery.getBody(), JobPreview.class));
                } else if (key.equals(Topology.WORKER_STATUS_ROUTING_KEY)) {
                    WorkerStatus status = json.readValue(delivery.getBody(), WorkerStatus.class);
                    statuses.add(status);
                    statusListeners.forEach(listener -> listener.accept(status));
                } else {
                    JobEvent event = json.readValue(delivery.getBody(), JobEvent.class);
                    if (!event.routingKey().equals(key)) {
                        problems.add("event " + event.type() + " had routing key " + key);
                    }
                    if (props.getDeliveryMode() == null || props.getDeliveryMode() != 2) {
                        problems.add("event " + event.type() + " not persistent");
                    }
                    events.add(event);
                }
            } catch (RuntimeException e) {
                problems.add("unreadable message on " + key + ": " + e);
            }
        };
        channel.basicConsume(queue, true, onDelivery, tag -> {});
    }

    /**
     * Each kind of message seen ({@code job}, {@code worker}, {@code relay}) with the broker user that published it
     * ({@code user_id}), e.g. {@code job:worker-a}.
     */
    java.util.Set<String> publishers() {
        return java.util.Set.copyOf(publishers);
    }

    List<JobEvent> eventsOf(UUID jobId) {
        List<JobEvent> out = new ArrayList<>();
        for (JobEvent e : events) {
            if (e.jobId().equals(jobId)) {
                out.add(e);
            }
        }
        return out;
    }

    List<JobPreview> previewsOf(UUID jobId) {
        return previews.stream().filter(p -> p.jobId().equals(jobId)).toList();
    }

    /** Every announcement of the worker so far, in arrival order. */
    List<WorkerStatus> statusesOf(String workerId) {
        return statuses.stream().filter(s -> s.workerId().equals(workerId)).toList();
    }

    /** The worker's announcements from the {@code from}-th on (see {@link #statusCount}). */
    List<WorkerStatus> statusesOf(String workerId, int from) {
        List<WorkerStatus> all = statusesOf(workerId);
        return all.subList(Math.min(from, all.size()), all.size());
    }

    /** How many announcements of the worker arrived so far (a mark for {@link #awaitStatus(String, int, ...)}). */
    int statusCount(String workerId) {
        return statusesOf(workerId).size();
    }

    /** The worker's last announcement, or null. */
    WorkerStatus lastStatus(String workerId) {
        List<WorkerStatus> all = statusesOf(workerId);
        return all.isEmpty() ? null : all.get(all.size() - 1);
    }

    /** Called on the recorder's thread with every announcement as it arrives. */
    void onStatus(Consumer<WorkerStatus> listener) {
        statusListeners.add(listener);
    }

    /** Waits for an announcement of the worker, from the {@code from}-th on, that matches. */
    WorkerStatus awaitStatus(String workerId, int from, Predicate<WorkerStatus> what, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            for (WorkerStatus s : statusesOf(workerId, from)) {
                if (what.test(s)) {
                    return s;
                }
            }
            sleep(20);
        }
        throw new AssertionError("No matching announcement of " + workerId + " within " + timeout + "; got "
                + describeStatuses(statusesOf(workerId, from)));
    }

    /** Waits for the next announcement of the worker that matches. */
    WorkerStatus awaitStatus(String workerId, Predicate<WorkerStatus> what, Duration timeout) {
        return awaitStatus(workerId, statusCount(workerId), what, timeout);
    }

    static String describeStatuses(List<WorkerStatus> statuses) {
        List<String> out = statuses.stream()
                .map(s -> s.state() + "#" + s.seq()
                        + (s.running() == null
                                ? ""
                                : "(" + s.running().jobId().toString().substring(0, 8) + "/a"
                                        + s.running().attempt() + ")")
                        + (s.forge() == null ? "" : "+offer"))
                .toList();
        return out.size() <= 40 ? out.toString() : "..." + out.subList(out.size() - 40, out.size());
    }

    List<String> problems() {
        return List.copyOf(problems);
    }

    /** Waits for the first event of the job matching the predicate. */
    JobEvent await(UUID jobId, Predicate<JobEvent> what, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            for (JobEvent e : eventsOf(jobId)) {
                if (what.test(e)) {
                    return e;
                }
            }
            sleep(20);
        }
        throw new AssertionError(
                "No matching event for job " + jobId + " within " + timeout + "; got " + describe(eventsOf(jobId)));
    }

    JobEvent awaitType(UUID jobId, EventType type, Duration timeout) {
        return await(jobId, e -> e.type() == type, timeout);
    }

    /** Waits for a terminal or requeued event (the outcome of an attempt). */
    JobEvent awaitOutcome(UUID jobId, Duration timeout) {
        return await(
                jobId,
                e -> e.type() != EventType.RUNNING && e.type() != EventType.PROGRESS && e.type() != EventType.HEARTBEAT,
                timeout);
    }

    static String describe(List<JobEvent> events) {
        return events.stream()
                .map(e -> e.type() + "(a" + e.attempt() + ",s" + e.seq() + ")")
                .toList()
                .toString();
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() throws Exception {
        connection.close();
    }
}
