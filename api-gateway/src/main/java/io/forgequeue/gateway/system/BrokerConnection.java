package io.forgequeue.gateway.system;

import com.rabbitmq.client.ShutdownSignalException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.amqp.rabbit.connection.Connection;
import org.springframework.amqp.rabbit.connection.ConnectionFactory;
import org.springframework.amqp.rabbit.connection.ConnectionListener;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.stereotype.Component;

/**
 * Whether this instance holds a connection to RabbitMQ, for operators: the gauge {@code gpu.gateway.broker.connected}
 * and one log line per change. Readiness does not depend on it: while the broker is away the gateway keeps accepting
 * jobs (the outbox publishes them later) and serving what PostgreSQL holds. The health endpoint still shows the
 * broker as its {@code rabbit} component. The scheduler hands out no job while there is no connection (each hand-out
 * would fail to send and use up one of the job's attempts). Thread-safe.
 */
@Component
public class BrokerConnection implements ConnectionListener {

    private static final Logger log = LoggerFactory.getLogger(BrokerConnection.class);

    private final GatewayMetrics metrics;
    private final AtomicBoolean connected = new AtomicBoolean();
    /** Whether the failed TLS handshake was logged since the last connection (once, not on every retry). */
    private final AtomicBoolean tlsReported = new AtomicBoolean();

    private final LongSupplier clock;
    private volatile long connectedSinceNanos;
    /** Whether this gateway has had a broker connection since it started. */
    private boolean everConnected;
    /** Whether the connection held now (or last held) replaced one that was lost. */
    private volatile boolean reconnection;

    @Autowired
    BrokerConnection(ConnectionFactory connectionFactory, GatewayMetrics metrics) {
        this(connectionFactory, metrics, System::nanoTime);
    }

    BrokerConnection(ConnectionFactory connectionFactory, GatewayMetrics metrics, LongSupplier nanoClock) {
        this.metrics = metrics;
        this.clock = nanoClock;
        connectionFactory.addConnectionListener(this); // told at once if the connection is open already
    }

    /** Whether this instance holds a connection to the broker now (false until the first one is made). */
    public boolean isConnected() {
        return connected.get();
    }

    /**
     * Since when this instance has been connected without a break ({@link System#nanoTime()} scale), or
     * {@code nowNanos} while it is not: the scheduler takes a worker for lost only once it has been able to hear it
     * for a presence timeout (a broker outage silences every worker at once).
     */
    public long hearingSinceNanos(long nowNanos) {
        return connected.get() ? connectedSinceNanos : nowNanos;
    }

    /**
     * Whether the connection held now came back after a lost one (not the first since this gateway started). The
     * workers were cut off by the same outage and reconnect on their own schedule, so the scheduler gives them longer
     * than a presence timeout to be heard again (issue 16: a broker restart had the workers taken for lost 0.6 s
     * before their first announcement arrived, and a job they finished meanwhile ran a second time).
     */
    public boolean isReconnection() {
        return connected.get() && reconnection;
    }

    @Override
    public synchronized void onCreate(Connection connection) {
        tlsReported.set(false);
        metrics.brokerConnected(true);
        if (!connected.get()) {
            connectedSinceNanos = clock.getAsLong();
            reconnection = everConnected;
            everConnected = true;
        }
        if (!connected.getAndSet(true)) {
            log.info("Connected to the broker");
        }
    }

    @Override
    public void onClose(Connection connection) {
        lost(null, true);
    }

    @Override
    public void onShutDown(ShutdownSignalException signal) {
        lost(signal.getMessage(), signal.isInitiatedByApplication());
    }

    @Override
    public void onFailed(Exception exception) {
        SSLException tls = tlsCause(exception);
        if (tls != null && tlsReported.compareAndSet(false, true)) {
            log.error(
                    "Broker TLS handshake failed, no connection to the broker: {}. The broker's certificate must be "
                            + "signed by a CA in the trust store of spring.rabbitmq.ssl.bundle (or the JVM's) and name the "
                            + "host in spring.rabbitmq.addresses; see docs/security-tls.md. Retrying.",
                    tls.getMessage());
        }
        lost(exception.toString(), false);
    }

    /** The TLS failure behind a failed connection attempt (issue 19), or null. */
    static SSLException tlsCause(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof SSLException ssl) {
                return ssl;
            }
        }
        return null;
    }

    private void lost(String why, boolean deliberate) {
        metrics.brokerConnected(false);
        if (!connected.getAndSet(false)) {
            return;
        }
        if (deliberate) {
            log.info("Closed the broker connection");
        } else {
            log.warn(
                    "Lost the broker connection ({}); jobs are accepted into the outbox and published once it is "
                            + "back",
                    why);
        }
    }
}
