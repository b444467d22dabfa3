package io.forgequeue.testsupport;

/**
 * The least-privilege broker users of the deployment (README "Security"), as tests create them: the same
 * permissions as {@code infra/local/rabbitmq.sh add-worker-user} / {@code add-gateway-user}, the compose definitions
 * and the Kubernetes set-up job (keep them in step; {@code BrokerRolesScriptTest} compares this class with the
 * script).
 */
public final class BrokerRoles {

    /** The exchange the worker's topic permissions apply to. */
    public static final String EVENTS_EXCHANGE = "forge.events";

    /** Routing keys a worker may publish on {@link #EVENTS_EXCHANGE}: its job events, its status, previews. */
    public static final String WORKER_TOPIC_WRITE = "^(job\\..+|worker\\.status|relay\\.preview)$";

    /** A worker binds nothing to {@link #EVENTS_EXCHANGE} (it has no read on it either). */
    public static final String WORKER_TOPIC_READ = "^$";

    /** The gateway owns every {@code forge.*} name. */
    public static final String GATEWAY_ALL = "^forge\\..*";

    /**
     * The gateway writes every {@code forge.*} name and the default exchange ({@code amq.default}), through which the
     * scheduler hands out job messages (routing key = the worker's queue name).
     */
    public static final String GATEWAY_WRITE = "^(forge\\..*|amq\\.default)$";

    private BrokerRoles() {}

    /** configure / write / read regexes of one worker's user on the virtual host. */
    public record Permissions(String configure, String write, String read) {}

    /**
     * A worker's permissions: configure its own job and control queues; write its control queue (to bind it to
     * {@code forge.control}), the dead-letter exchange its job queue names, and the events exchange; read its two
     * queues and {@code forge.control}. No right on any exchange job messages travel through: they reach its job queue
     * through the default exchange, which needs none to receive and on which nobody can bind, so it cannot copy
     * another worker's job messages into a queue of its own, nor hand out job messages itself.
     */
    public static Permissions worker(String workerId) {
        return workers(workerId.replace(".", "\\.")); // worker ids are [A-Za-z0-9._-]: only '.' needs escaping
    }

    /**
     * The permissions of a user shared by the workers whose ids match {@code id} (a regex, e.g.
     * {@code gpu-worker-.+} for the pods of a Kubernetes Deployment): as {@link #worker}, for each of those ids. One
     * worker of the group could report for another's jobs (they share the user); the broker keeps them all off
     * everything else.
     */
    public static Permissions workers(String id) {
        return new Permissions(
                "^forge\\.(jobs\\.worker|control)\\." + id + "$",
                "^(forge\\.control\\." + id + "|forge\\.jobs\\.dlx|forge\\.events)$",
                "^(forge\\.jobs\\.worker\\." + id + "|forge\\.control\\." + id + "|forge\\.control)$");
    }

    /** The gateway's permissions: everything named {@code forge.*}, and write on the default exchange. */
    public static Permissions gateway() {
        return new Permissions(GATEWAY_ALL, GATEWAY_WRITE, GATEWAY_ALL);
    }
}
