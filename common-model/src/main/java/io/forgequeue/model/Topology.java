package io.forgequeue.model;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Names of the RabbitMQ exchanges, queues and routing keys, declared identically by the gateway and the
 * worker (declaration is idempotent as long as both agree, which is why the names live here).
 *
 * <pre>
 * gateway --(routing key = pool)--&gt; [forge.jobs] direct --&gt; forge.jobs.&lt;pool&gt; (quorum, DLX)
 *                                       forge.jobs.dlx --&gt; forge.jobs.&lt;pool&gt;.dead
 * worker  --(job.&lt;event&gt;)--------&gt; [forge.events] topic --&gt; forge.events.persist (quorum, all gateways)
 * gateway --(relay.&lt;kind&gt;)-------&gt; [forge.events] topic --&gt; forge.events.relay.&lt;gateway-id&gt; (one per gateway)
 * worker  --(relay.preview)-------&gt; [forge.events] topic --&gt; forge.events.relay.&lt;gateway-id&gt;
 * gateway ------------------------&gt; [forge.control] fanout --&gt; forge.control.&lt;worker-id&gt; (one per worker)
 * </pre>
 *
 * Status events that are persisted use {@code job.*} keys; whatever only travels to WebSocket clients uses
 * {@code relay.*} keys, so image bytes (in {@link JobSucceeded}) never reach a relay queue.
 */
public final class Topology {

    /** Direct exchange the gateway publishes job messages to; the routing key is the pool name. */
    public static final String JOBS_EXCHANGE = "forge.jobs";

    /** Direct exchange that dead-letters rejected job messages; the routing key is the pool name. */
    public static final String JOBS_DEAD_LETTER_EXCHANGE = "forge.jobs.dlx";

    /** Topic exchange carrying every status event and relay message. */
    public static final String EVENTS_EXCHANGE = "forge.events";

    /** Durable quorum queue shared by all gateways; each status event is merged once from here. */
    public static final String PERSIST_QUEUE = "forge.events.persist";

    /** Binding of {@link #PERSIST_QUEUE}: every persisted status event. */
    public static final String PERSIST_BINDING = "job.#";

    /** Binding of each gateway's relay queue: everything meant for WebSocket clients. */
    public static final String RELAY_BINDING = "relay.#";

    /** Routing key of {@link JobPreview} frames (worker to relay queues, never persisted). */
    public static final String PREVIEW_ROUTING_KEY = "relay.preview";

    /** Fanout exchange for commands to every worker ({@link CancelJobCommand}). */
    public static final String CONTROL_EXCHANGE = "forge.control";

    /** The pool used when a job names none. */
    public static final String DEFAULT_POOL = "default";

    /** Quorum queue argument: deliveries after which the broker itself dead-letters a message (backstop). */
    public static final String DELIVERY_LIMIT_ARGUMENT = "x-delivery-limit";

    /** Header a quorum queue sets on a redelivered message: the number of earlier deliveries. */
    public static final String DELIVERY_COUNT_HEADER = "x-delivery-count";

    /**
     * Deliveries after which the broker itself dead-letters a job message. A backstop only: workers fail a
     * job with {@link ErrorCode#TOO_MANY_ATTEMPTS} well before (their own, configurable limit).
     */
    public static final int BROKER_DELIVERY_LIMIT = 50;

    private Topology() {
    }

    /**
     * Arguments of every job queue: a quorum queue that dead-letters to {@link #JOBS_DEAD_LETTER_EXCHANGE}
     * (with the pool as routing key) and stops redelivering after {@link #BROKER_DELIVERY_LIMIT}. Gateway and
     * worker both declare the queue with exactly these, or the broker refuses the second declaration.
     */
    public static Map<String, Object> jobQueueArguments(String pool) {
        Map<String, Object> args = new LinkedHashMap<>();
        args.put("x-queue-type", "quorum");
        args.put("x-dead-letter-exchange", JOBS_DEAD_LETTER_EXCHANGE);
        args.put("x-dead-letter-routing-key", requirePool(pool));
        args.put(DELIVERY_LIMIT_ARGUMENT, BROKER_DELIVERY_LIMIT);
        return Collections.unmodifiableMap(args);
    }

    /** Arguments of the dead-letter queue of a pool and of {@link #PERSIST_QUEUE}: a plain quorum queue. */
    public static Map<String, Object> quorumQueueArguments() {
        return Map.of("x-queue-type", "quorum");
    }

    /** Job queue of a pool, e.g. {@code forge.jobs.default}. */
    public static String jobQueue(String pool) {
        return JOBS_EXCHANGE + "." + requirePool(pool);
    }

    /** Dead-letter queue of a pool, e.g. {@code forge.jobs.default.dead}. */
    public static String deadLetterQueue(String pool) {
        return jobQueue(pool) + ".dead";
    }

    /** Relay queue of one gateway instance. */
    public static String relayQueue(String gatewayId) {
        return "forge.events.relay." + gatewayId;
    }

    /** Control queue of one worker instance. */
    public static String controlQueue(String workerId) {
        return CONTROL_EXCHANGE + "." + workerId;
    }

    /** Whether {@code pool} is a usable pool name: 1 to 64 characters of {@code [a-z0-9-]}. */
    public static boolean isValidPool(String pool) {
        return pool != null && pool.matches("[a-z0-9][a-z0-9-]{0,63}");
    }

    private static String requirePool(String pool) {
        if (!isValidPool(pool)) {
            throw new IllegalArgumentException("Pool name must be 1-64 characters of a-z, 0-9 and '-': " + pool);
        }
        return pool;
    }
}
