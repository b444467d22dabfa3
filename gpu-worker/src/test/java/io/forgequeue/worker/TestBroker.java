package io.forgequeue.worker;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.GetResponse;
import io.forgequeue.model.CancelJobCommand;
import io.forgequeue.model.Contract;
import io.forgequeue.model.JobMessage;
import io.forgequeue.model.JobSpec;
import io.forgequeue.model.Topology;
import io.forgequeue.testsupport.RabbitEndpoint;
import io.forgequeue.worker.system.WireJson;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import tools.jackson.databind.json.JsonMapper;

/**
 * What the gateway's scheduler would do, done by hand over a plain AMQP connection: hand jobs to a worker (its own
 * queue through the default exchange, with the next attempt of the job; mandatory, so a hand-out to a worker without
 * a queue is seen as returned), publish cancels and stops, look at queues.
 */
final class TestBroker implements AutoCloseable {

    /** The worker jobs are handed to unless a test says otherwise. */
    static final String WORKER = "it-worker";

    private final RabbitEndpoint rabbit;
    private final Connection connection;
    private final Channel channel;
    private final JsonMapper json = WireJson.newMapper();
    private final AtomicLong tickets = new AtomicLong();
    private final Map<UUID, Integer> attempts = new HashMap<>();
    private final AtomicInteger returns = new AtomicInteger();
    private volatile String worker = WORKER;

    TestBroker(RabbitEndpoint rabbit) throws Exception {
        this.rabbit = rabbit;
        connection = rabbit.connectionFactory().newConnection("test-broker");
        channel = connection.createChannel();
        channel.confirmSelect();
        // the broker sends a return before the confirm of the same message
        channel.addReturnListener(returned -> returns.incrementAndGet());
        declareGatewayTopology(channel);
    }

    /**
     * The shared names the gateway declares (the worker declares only its own queues and bindings): the exchanges,
     * the persist queue and the default pool's dead-letter queue.
     */
    static void declareGatewayTopology(Channel channel) throws Exception {
        channel.exchangeDeclare(Topology.JOBS_DEAD_LETTER_EXCHANGE, "direct", true);
        channel.exchangeDeclare(Topology.EVENTS_EXCHANGE, "topic", true);
        channel.exchangeDeclare(Topology.CONTROL_EXCHANGE, "fanout", true);
        channel.queueDeclare(Topology.PERSIST_QUEUE, true, false, false, Topology.quorumQueueArguments());
        channel.queueBind(Topology.PERSIST_QUEUE, Topology.EVENTS_EXCHANGE, Topology.PERSIST_BINDING);
        String dead = Topology.deadLetterQueue(Topology.DEFAULT_POOL);
        channel.queueDeclare(dead, true, false, false, Topology.quorumQueueArguments());
        channel.queueBind(dead, Topology.JOBS_DEAD_LETTER_EXCHANGE, Topology.DEFAULT_POOL);
    }

    /** Whether a queue exists, and whether another connection holds it exclusively. */
    enum QueueState {
        MISSING,
        EXCLUSIVE_TO_ANOTHER_CONNECTION,
        OPEN
    }

    /** Hands the following jobs to {@code workerId}. */
    TestBroker to(String workerId) {
        this.worker = workerId;
        return this;
    }

    /** The attempt the last hand-out of {@code jobId} had (0 before the first). */
    synchronized int attemptOf(UUID jobId) {
        return attempts.getOrDefault(jobId, 0);
    }

    /** Publishes a job for the pool (persistent, confirmed) and returns its id. */
    UUID submit(JobSpec spec) {
        return submit(UUID.randomUUID(), spec, Map.of());
    }

    UUID submit(JobSpec spec, Map<String, Object> headers) {
        return submit(UUID.randomUUID(), spec, headers);
    }

    UUID submit(UUID jobId, JobSpec spec) {
        return submit(jobId, spec, Map.of());
    }

    /** Hands the job (its next attempt) to the current worker, as the scheduler would. */
    synchronized UUID submit(UUID jobId, JobSpec spec, Map<String, Object> headers) {
        int attempt = attempts.merge(jobId, 1, Integer::sum);
        JobMessage message = new JobMessage(
                jobId, attempt, worker, tickets.incrementAndGet(), Topology.DEFAULT_POOL, spec, Instant.now());
        publishRaw(Topology.HANDOUT_EXCHANGE, Topology.workerQueue(worker), json.writeValueAsBytes(message), headers);
        return jobId;
    }

    /** Hands the job to the current worker as attempt {@code attempt}. */
    synchronized UUID submitAttempt(UUID jobId, int attempt, JobSpec spec) {
        return submitAs(jobId, attempt, worker, spec);
    }

    /**
     * Puts into the current worker's queue attempt {@code attempt} of the job, assigned to {@code assignedTo} (which
     * need not be the worker whose queue it lands in).
     */
    synchronized UUID submitAs(UUID jobId, int attempt, String assignedTo, JobSpec spec) {
        attempts.put(jobId, attempt);
        JobMessage message = new JobMessage(
                jobId, attempt, assignedTo, tickets.incrementAndGet(), Topology.DEFAULT_POOL, spec, Instant.now());
        publishRaw(Topology.HANDOUT_EXCHANGE, Topology.workerQueue(worker), json.writeValueAsBytes(message), Map.of());
        return jobId;
    }

    /**
     * Hands the job (its next attempt) to the current worker and says whether the broker routed it to a queue (false:
     * returned, the worker has no queue).
     */
    synchronized boolean offer(UUID jobId, JobSpec spec) {
        int before = returns.get();
        submit(jobId, spec);
        return returns.get() == before;
    }

    /** Tells {@code workerId} to stop one attempt of a job (a revoked assignment). */
    synchronized void stop(UUID jobId, int attempt, String workerId) {
        publishRaw(
                Topology.CONTROL_EXCHANGE,
                "",
                json.writeValueAsBytes(new CancelJobCommand(jobId, Instant.now(), attempt, workerId)),
                Map.of());
    }

    synchronized void cancel(UUID jobId) {
        publishRaw(
                Topology.CONTROL_EXCHANGE,
                "",
                json.writeValueAsBytes(new CancelJobCommand(jobId, Instant.now())),
                Map.of());
    }

    synchronized void publishRaw(String exchange, String routingKey, byte[] body, Map<String, Object> headers) {
        Map<String, Object> all = new HashMap<>(headers);
        all.put(Contract.VERSION_HEADER, Contract.VERSION);
        AMQP.BasicProperties props = new AMQP.BasicProperties.Builder()
                .contentType(Contract.CONTENT_TYPE)
                .deliveryMode(2)
                .headers(all)
                .build();
        try {
            channel.basicPublish(exchange, routingKey, true, props, body);
            channel.waitForConfirmsOrDie(10_000);
        } catch (Exception e) {
            throw new IllegalStateException("publish to " + exchange + " failed", e);
        }
    }

    /**
     * Whether the queue exists; a worker's job queue is exclusive to the worker's connection, so the broker refuses
     * to let anyone else even look at it (RESOURCE_LOCKED), which is how its existence shows.
     */
    synchronized QueueState queueState(String queue) throws Exception {
        Channel probe = connection.createChannel();
        try {
            probe.queueDeclarePassive(queue);
            return QueueState.OPEN;
        } catch (java.io.IOException e) {
            String reason = String.valueOf(e.getCause());
            if (reason.contains("reply-code=404")) {
                return QueueState.MISSING;
            }
            if (reason.contains("reply-code=405")) {
                return QueueState.EXCLUSIVE_TO_ANOTHER_CONNECTION;
            }
            throw e;
        } finally {
            if (probe.isOpen()) {
                probe.close();
            }
        }
    }

    /**
     * The connections to this virtual host, as the management API lists them: its name for each (to close it) by the
     * name the client gave the connection (e.g. {@code rabbitConnectionFactory#1a2b:0}; Spring names a publisher
     * connection {@code rabbitConnectionFactory.publisher#...}).
     */
    Map<String, String> connectionsByClientName() throws Exception {
        String vhost = java.net.URLEncoder.encode(rabbit.virtualHost(), java.nio.charset.StandardCharsets.UTF_8);
        tools.jackson.databind.JsonNode list =
                json.readTree(management("GET", "/api/vhosts/" + vhost + "/connections"));
        Map<String, String> out = new HashMap<>();
        for (tools.jackson.databind.JsonNode c : list) {
            tools.jackson.databind.JsonNode clientName =
                    c.path("client_properties").path("connection_name");
            if (!clientName.isMissingNode()) {
                out.put(clientName.asString(), c.path("name").asString());
            }
        }
        return out;
    }

    /** Closes a connection as an operator (or a network fault) would: the broker drops it and its exclusive queues. */
    void closeConnection(String managementName) throws Exception {
        management(
                "DELETE",
                "/api/connections/"
                        + java.net.URLEncoder.encode(managementName, java.nio.charset.StandardCharsets.UTF_8)
                                .replace("+", "%20"));
    }

    private String management(String method, String path) throws Exception {
        java.net.http.HttpRequest request = java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create("http://" + rabbit.host() + ":" + rabbit.managementPort() + path))
                .timeout(java.time.Duration.ofSeconds(10))
                .header(
                        "Authorization",
                        "Basic "
                                + java.util.Base64.getEncoder()
                                        .encodeToString((rabbit.username() + ":" + rabbit.password())
                                                .getBytes(java.nio.charset.StandardCharsets.UTF_8)))
                .method(method, java.net.http.HttpRequest.BodyPublishers.noBody())
                .build();
        java.net.http.HttpResponse<String> response = java.net.http.HttpClient.newBuilder()
                .version(java.net.http.HttpClient.Version.HTTP_1_1)
                .build()
                .send(request, java.net.http.HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() / 100 != 2) {
            throw new IllegalStateException(method + " " + path + " answered " + response.statusCode());
        }
        return response.body();
    }

    synchronized long messageCount(String queue) throws Exception {
        return channel.queueDeclarePassive(queue).getMessageCount();
    }

    synchronized int consumerCount(String queue) throws Exception {
        return channel.queueDeclarePassive(queue).getConsumerCount();
    }

    /** Takes one message off a queue (acked), or null. */
    synchronized GetResponse take(String queue) throws Exception {
        return channel.basicGet(queue, true);
    }

    /**
     * Binds to the events exchange a quorum queue that is already full and refuses new messages
     * ({@code x-overflow=reject-publish}): from now on the broker nacks every event published with that routing
     * key, as it does while a quorum queue has no leader.
     */
    synchronized void refuseEvents(String queue, String bindingKey) throws Exception {
        channel.queueDeclare(
                queue,
                true,
                false,
                false,
                Map.of("x-queue-type", "quorum", "x-max-length", 1, "x-overflow", "reject-publish"));
        for (int i = 0; i < 3; i++) { // a quorum queue starts refusing once it is over its limit
            channel.basicPublish("", queue, null, new byte[] {1});
            channel.waitForConfirms(10_000);
        }
        channel.queueBind(queue, Topology.EVENTS_EXCHANGE, bindingKey);
    }

    /** A new channel on the test's (admin) connection; the caller closes it. */
    Channel adminChannel() throws Exception {
        return connection.createChannel();
    }

    synchronized void deleteQueue(String queue) throws Exception {
        channel.queueDelete(queue);
    }

    synchronized void purge(String queue) throws Exception {
        channel.queuePurge(queue);
    }

    @Override
    public void close() throws Exception {
        connection.close();
    }
}
