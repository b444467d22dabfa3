package io.forgequeue.testsupport;

import com.rabbitmq.client.ConnectionFactory;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * A RabbitMQ broker (one node) and a virtual host on it. Immutable and thread-safe.
 *
 * @param host           broker host name or address; never blank
 * @param port           AMQP port
 * @param username       user for AMQP and the management API; never null
 * @param password       that user's password; never null (may be empty)
 * @param managementPort port of the management plugin's HTTP API (used to create virtual hosts)
 * @param virtualHost    virtual host name, {@code "/"} for the default one; never null
 */
public record RabbitEndpoint(
        String host, int port, String username, String password, int managementPort, String virtualHost) {

    public RabbitEndpoint {
        requireText(host, "host");
        requirePort(port, "port");
        Objects.requireNonNull(username, "username");
        Objects.requireNonNull(password, "password");
        requirePort(managementPort, "managementPort");
        requireText(virtualHost, "virtualHost");
    }

    /** {@code host:port}, the form of {@code spring.rabbitmq.addresses}. */
    public String addresses() {
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }

    /**
     * Creates a new virtual host named {@code prefix} plus a random suffix through the management HTTP API,
     * grants this endpoint's user (guest unless configured otherwise) all permissions on it, and returns the
     * endpoint for it. Virtual hosts made by test JVMs that have ended are deleted by a later test JVM on
     * the harness-started local broker.
     *
     * @param prefix readable start of the name, e.g. the test class; letters, digits, {@code . - _}
     *               (others are replaced)
     */
    public RabbitEndpoint withFreshVirtualHost(String prefix) {
        String name = FreshNames.virtualHost(prefix);
        RabbitManagementClient management = new RabbitManagementClient(this);
        management.createVirtualHost(name);
        management.grantAllPermissions(name, username);
        return new RabbitEndpoint(host, port, username, password, managementPort, name);
    }

    /**
     * Creates a broker user with {@code permissions} on this endpoint's virtual host (and, for a worker, its topic
     * permissions on {@code forge.events}) through the management API, and returns the endpoint for that user. The
     * user's name is {@code <virtual host>.<role>}, so parallel test JVMs never share one; delete it with
     * {@link #deleteUser(RabbitEndpoint)} when the test ends.
     *
     * @param role          e.g. {@code worker-a}; letters, digits, {@code . - _}
     * @param permissions   configure / write / read regexes ({@link BrokerRoles})
     * @param topicWrite    routing keys it may publish on {@code forge.events}, or null for no topic permissions
     */
    public RabbitEndpoint withNewUser(String role, BrokerRoles.Permissions permissions, String topicWrite) {
        String user = virtualHost + "." + role;
        String password = java.util.UUID.randomUUID().toString();
        RabbitManagementClient management = new RabbitManagementClient(this);
        management.createUser(user, password);
        management.setPermissions(virtualHost, user, permissions.configure(), permissions.write(), permissions.read());
        if (topicWrite != null) {
            management.setTopicPermissions(
                    virtualHost, user, BrokerRoles.EVENTS_EXCHANGE, topicWrite, BrokerRoles.WORKER_TOPIC_READ);
        }
        return new RabbitEndpoint(host, port, user, password, managementPort, virtualHost);
    }

    /**
     * Deletes this endpoint's user (one made by {@link #withNewUser}), through the management API with
     * {@code admin}'s credentials.
     */
    public void deleteUser(RabbitEndpoint admin) {
        new RabbitManagementClient(admin).deleteUser(username);
    }

    /**
     * The environment that points the gateway or a worker (run as a process) at this endpoint:
     * {@code SPRING_RABBITMQ_ADDRESSES}, {@code _USERNAME}, {@code _PASSWORD}, {@code _VIRTUAL_HOST}. A new mutable
     * map, so a caller can add the app's own settings.
     */
    public Map<String, String> appEnvironment() {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("SPRING_RABBITMQ_ADDRESSES", addresses());
        env.put("SPRING_RABBITMQ_USERNAME", username);
        env.put("SPRING_RABBITMQ_PASSWORD", password);
        env.put("SPRING_RABBITMQ_VIRTUAL_HOST", virtualHost);
        return env;
    }

    /** A new connection factory for this endpoint (automatic recovery on, as the client's default). */
    public ConnectionFactory connectionFactory() {
        ConnectionFactory factory = new ConnectionFactory();
        factory.setHost(host);
        factory.setPort(port);
        factory.setUsername(username);
        factory.setPassword(password);
        factory.setVirtualHost(virtualHost);
        factory.setConnectionTimeout(10_000);
        return factory;
    }

    @Override
    public String toString() {
        return "RabbitEndpoint[" + username + "@" + addresses() + ", vhost " + virtualHost + ", management port "
                + managementPort + "]";
    }

    static void requireText(String value, String name) {
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException(name + " must not be blank");
        }
    }

    static void requirePort(int port, String name) {
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException(name + " must be a TCP port (1-65535), got " + port);
        }
    }
}
