package io.forgequeue.model;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Names of the RabbitMQ exchanges, queues and routing keys shared by the gateway and the worker. The gateway
 * declares the shared ones; a worker declares only its own job and control queues (its broker user may configure
 * nothing else, README "Security").
 *
 * <pre>
 * scheduler --(routing key = queue name)--&gt; [default exchange ""] --&gt; forge.jobs.worker.&lt;worker-id&gt;
 *                       (exclusive, DLX)  forge.jobs.dlx --&gt; forge.jobs.&lt;pool&gt;.dead
 * worker  --(job.&lt;event&gt;)--------&gt; [forge.events] topic --&gt; forge.events.persist (quorum, all gateways)
 * gateway --(relay.&lt;kind&gt;)-------&gt; [forge.events] topic --&gt; forge.events.relay.&lt;gateway-id&gt; (one per gateway)
 * worker  --(relay.preview)-------&gt; [forge.events] topic --&gt; forge.events.relay.&lt;gateway-id&gt;
 * worker  --(worker.status)-------&gt; [forge.events] topic --&gt; forge.events.relay.&lt;gateway-id&gt;
 * gateway ------------------------&gt; [forge.control] fanout --&gt; forge.control.&lt;worker-id&gt; (one per worker)
 * </pre>
 *
 * Status events that are persisted use {@code job.*} keys; whatever only travels to WebSocket clients uses
 * {@code relay.*} keys, so image bytes (in {@link JobSucceeded}) never reach a relay queue.
 */
public final class Topology {

    /**
     * The exchange the scheduler hands job messages out through: the broker's default exchange ({@code ""}), with the
     * worker's queue name ({@link #workerQueue}) as routing key. Every queue is bound to it by its own name and nobody
     * can add or remove bindings on it, so no one can copy another worker's job messages into a queue of theirs (a
     * named direct exchange would let anyone with read on it bind). Publishing to it needs write on the resource
     * {@link #HANDOUT_EXCHANGE_RESOURCE}; a worker needs no right on it to receive.
     */
    public static final String HANDOUT_EXCHANGE = "";

    /** The name RabbitMQ checks permissions against for {@link #HANDOUT_EXCHANGE} (the gateway's write right). */
    public static final String HANDOUT_EXCHANGE_RESOURCE = "amq.default";

    /** Prefix of the job queues' names (no exchange has this name). */
    private static final String JOBS_PREFIX = "forge.jobs";

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

    /** Routing key of {@link WorkerStatus} announcements (worker to every gateway's relay queue). */
    public static final String WORKER_STATUS_ROUTING_KEY = "worker.status";

    /** Binding of each gateway's relay queue for worker announcements. */
    public static final String WORKER_BINDING = "worker.#";

    /** Fanout exchange for commands to every worker ({@link CancelJobCommand}). */
    public static final String CONTROL_EXCHANGE = "forge.control";

    /** The pool used when a job names none. */
    public static final String DEFAULT_POOL = "default";

    private Topology() {}

    /**
     * Arguments of a worker's job queue: it dead-letters to {@link #JOBS_DEAD_LETTER_EXCHANGE} with the worker's
     * pool as routing key (a message the worker cannot read lands in the pool's dead-letter queue).
     */
    public static Map<String, Object> workerQueueArguments(String pool) {
        Map<String, Object> args = new LinkedHashMap<>();
        args.put("x-dead-letter-exchange", JOBS_DEAD_LETTER_EXCHANGE);
        args.put("x-dead-letter-routing-key", requirePool(pool));
        return Collections.unmodifiableMap(args);
    }

    /** Arguments of the dead-letter queue of a pool and of {@link #PERSIST_QUEUE}: a plain quorum queue. */
    public static Map<String, Object> quorumQueueArguments() {
        return Map.of("x-queue-type", "quorum");
    }

    /**
     * A worker's own job queue, e.g. {@code forge.jobs.worker.gpu-box-0}: exclusive to the worker's connection, so
     * it never outlives the worker; the scheduler publishes to it through {@link #HANDOUT_EXCHANGE} with this name as
     * routing key.
     */
    public static String workerQueue(String workerId) {
        return JOBS_PREFIX + ".worker." + requireWorkerId(workerId);
    }

    /** Whether {@code queue} is the name of a worker's job queue ({@link #workerQueue}). */
    public static boolean isWorkerQueue(String queue) {
        return queue != null
                && queue.startsWith(JOBS_PREFIX + ".worker.")
                && isValidWorkerId(queue.substring(JOBS_PREFIX.length() + ".worker.".length()));
    }

    /** Dead-letter queue of a pool, e.g. {@code forge.jobs.default.dead}. */
    public static String deadLetterQueue(String pool) {
        return JOBS_PREFIX + "." + requirePool(pool) + ".dead";
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
        return pool != null && POOL_NAME.matcher(pool).matches();
    }

    /** Whether {@code workerId} is usable in queue names: 1 to 100 characters of {@code [A-Za-z0-9._-]}. */
    public static boolean isValidWorkerId(String workerId) {
        return workerId != null && WORKER_ID.matcher(workerId).matches();
    }

    // compiled once: every worker announcement is checked (500 workers: 1,000 checks a second per gateway)
    private static final java.util.regex.Pattern POOL_NAME = java.util.regex.Pattern.compile("[a-z0-9][a-z0-9-]{0,63}");
    private static final java.util.regex.Pattern WORKER_ID =
            java.util.regex.Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,99}");

    private static String requireWorkerId(String workerId) {
        if (!isValidWorkerId(workerId)) {
            throw new IllegalArgumentException(
                    "Worker id must be 1-100 characters of A-Z, a-z, 0-9, '.', '_' and '-': " + workerId);
        }
        return workerId;
    }

    private static String requirePool(String pool) {
        if (!isValidPool(pool)) {
            throw new IllegalArgumentException("Pool name must be 1-64 characters of a-z, 0-9 and '-': " + pool);
        }
        return pool;
    }
}
