package io.forgequeue.worker.system;

import com.rabbitmq.client.Channel;
import io.forgequeue.model.Topology;
import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.amqp.core.AmqpAdmin;
import org.springframework.amqp.rabbit.connection.Connection;
import org.springframework.amqp.rabbit.connection.ConnectionFactory;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;

/**
 * Holds the worker's start until the gateway's exchanges exist. The worker may not declare them (its broker user has
 * no configure right on shared names, README "Security"), so a worker started before any gateway would otherwise bind
 * its control queue to nothing (no cancel or stop could reach it) and announce itself to no one. Its job queue needs
 * no exchange of the gateway's: hand-outs come through the broker's default exchange. Runs before the
 * listener containers start; once the exchanges are there it declares its own queues and bindings again. When the
 * broker does not answer at all it does not wait (the connection is retried as before, and every new connection
 * declares the bindings).
 */
@Component
class SharedTopologyGate implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(SharedTopologyGate.class);
    private static final List<String> EXCHANGES = List.of(Topology.CONTROL_EXCHANGE, Topology.EVENTS_EXCHANGE);
    /** Between checks; each failed check also makes the connection factory log the closed channel (ERROR). */
    private static final Duration PAUSE = Duration.ofSeconds(3);

    private static final Duration LOG_EVERY = Duration.ofSeconds(30);

    private enum Found {
        ALL,
        MISSING,
        NO_BROKER
    }

    private final ConnectionFactory connectionFactory;
    private final AmqpAdmin admin;
    private final Duration pause;
    private volatile boolean running;

    @Autowired
    SharedTopologyGate(ConnectionFactory connectionFactory, AmqpAdmin admin) {
        this(connectionFactory, admin, PAUSE);
    }

    SharedTopologyGate(ConnectionFactory connectionFactory, AmqpAdmin admin, Duration pause) {
        this.connectionFactory = connectionFactory;
        this.admin = admin;
        this.pause = pause;
    }

    @Override
    public void start() {
        long started = System.nanoTime();
        long nextLog = started;
        boolean waited = false;
        // SIGTERM while waiting: Spring's own shutdown hook waits for the start to end, so end the wait
        java.util.concurrent.atomic.AtomicBoolean stopping = new java.util.concurrent.atomic.AtomicBoolean();
        Thread hook = new Thread(() -> stopping.set(true), "topology-gate-stop");
        Runtime.getRuntime().addShutdownHook(hook);
        Found found;
        while ((found = exchanges()) == Found.MISSING && !stopping.get()) {
            waited = true;
            if (System.nanoTime() >= nextLog) {
                log.warn(
                        "Waiting for a gateway to declare the exchanges {} (this worker's broker user may not "
                                + "declare them; waited {} s)",
                        EXCHANGES,
                        Duration.ofNanos(System.nanoTime() - started).toSeconds());
                nextLog = System.nanoTime() + LOG_EVERY.toNanos();
            }
            try {
                Thread.sleep(pause.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // shutting down already
        }
        if (waited && found == Found.ALL) {
            admin.initialize(); // the bindings that failed while the exchanges were missing
            log.info("The gateway's exchanges exist; own queues and bindings declared");
        }
        running = true;
    }

    /** Whether the shared exchanges exist (passive declarations, which need no permission). */
    private Found exchanges() {
        Connection connection;
        try {
            connection = connectionFactory.createConnection();
        } catch (RuntimeException e) {
            return Found.NO_BROKER;
        }
        for (String exchange : EXCHANGES) {
            Channel channel = null;
            try {
                channel = connection.createChannel(false);
                channel.exchangeDeclarePassive(exchange);
            } catch (Exception e) {
                return Found.MISSING; // 404 closes the channel
            } finally {
                closeQuietly(channel);
            }
        }
        return Found.ALL;
    }

    private static void closeQuietly(Channel channel) {
        if (channel != null && channel.isOpen()) {
            try {
                channel.close();
            } catch (Exception e) {
                // closed already
            }
        }
    }

    @Override
    public void stop() {
        running = false;
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    /** Before the listener containers (whose phase is {@code Integer.MAX_VALUE}). */
    @Override
    public int getPhase() {
        return 0;
    }
}
