package io.forgequeue.worker.system;

import java.time.Duration;
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
 * Says in one ERROR line why the broker connection cannot be made when the TLS handshake fails (the broker's
 * certificate is not signed by a CA this worker trusts, or does not name the host it was reached by). Without it the
 * only trace is the listener container's "consumer raised exception" warnings with a stack trace. The connection is
 * retried as always; the line comes again only when the reason changes or after {@link #REPEAT_EVERY}. Thread-safe.
 */
@Component
class BrokerTlsFailures implements ConnectionListener {

    private static final Logger log = LoggerFactory.getLogger(BrokerTlsFailures.class);

    static final Duration REPEAT_EVERY = Duration.ofMinutes(1);

    private final LongSupplier nanoClock;
    private String lastReason;
    private long lastLoggedNanos;

    @Autowired
    BrokerTlsFailures(ConnectionFactory connectionFactory) {
        this(System::nanoTime);
        connectionFactory.addConnectionListener(this); // the publisher connection factory's too
    }

    BrokerTlsFailures(LongSupplier nanoClock) {
        this.nanoClock = nanoClock;
    }

    @Override
    public synchronized void onCreate(Connection connection) {
        lastReason = null;
    }

    @Override
    public void onFailed(Exception exception) {
        SSLException tls = tlsCause(exception);
        if (tls == null) {
            return;
        }
        String reason = String.valueOf(tls.getMessage());
        synchronized (this) {
            long now = nanoClock.getAsLong();
            if (reason.equals(lastReason) && now - lastLoggedNanos < REPEAT_EVERY.toNanos()) {
                return;
            }
            lastReason = reason;
            lastLoggedNanos = now;
        }
        log.error(
                "Broker TLS handshake failed, no connection to the broker: {}. The broker's certificate must be "
                        + "signed by a CA in the trust store of spring.rabbitmq.ssl.bundle (or the JVM's) and name the host "
                        + "in spring.rabbitmq.addresses; see docs/security-tls.md. Retrying.",
                reason);
    }

    static SSLException tlsCause(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof SSLException ssl) {
                return ssl;
            }
        }
        return null;
    }
}
