package io.forgequeue.gateway.schedule;

import com.rabbitmq.client.ShutdownSignalException;
import org.springframework.amqp.rabbit.connection.Connection;
import org.springframework.amqp.rabbit.connection.ConnectionListener;

import java.util.function.LongSupplier;

/**
 * Whether this gateway's connection to the broker is up, and since when, for the scheduler: while it is down the
 * leader can neither hand out a job (the publish fails at once, and each failed hand-out would cost the job one of
 * its attempts: a broker restart used to fail jobs with TOO_MANY_ATTEMPTS) nor hear the workers announce themselves
 * (so it must not take them for lost). It judges presence again only once it has been connected for a presence
 * timeout, time for every worker to be heard of again. Unknown (never connected) counts as down. Thread-safe.
 */
final class BrokerLink implements ConnectionListener {

    private final LongSupplier clock;
    private volatile boolean up;
    private volatile long upSinceNanos;

    BrokerLink(LongSupplier nanoClock) {
        this.clock = nanoClock;
    }

    @Override
    public synchronized void onCreate(Connection connection) {
        if (!up) {
            upSinceNanos = clock.getAsLong();
            up = true;
        }
    }

    @Override
    public void onClose(Connection connection) {
        up = false;
    }

    @Override
    public void onShutDown(ShutdownSignalException signal) {
        up = false;
    }

    @Override
    public void onFailed(Exception exception) {
        up = false;
    }

    /** Whether job messages can be published now. */
    boolean isUp() {
        return up;
    }

    /**
     * Since when this gateway has been able to hear the workers without a break ({@link System#nanoTime()} scale):
     * when the connection came up, or {@code nowNanos} while it is down.
     */
    long hearingSinceNanos(long nowNanos) {
        return up ? upSinceNanos : nowNanos;
    }
}
