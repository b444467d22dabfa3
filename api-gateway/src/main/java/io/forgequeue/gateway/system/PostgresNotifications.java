package io.forgequeue.gateway.system;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import javax.sql.DataSource;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;

/**
 * Delivers PostgreSQL notifications ({@code LISTEN}/{@code NOTIFY}) to the features that registered for a channel,
 * over one connection held for the purpose on one named thread ({@code pg-notifications}).
 *
 * <p>PostgreSQL sends a notification when the transaction that raised it commits, in commit order, to every
 * connection listening at that moment. What happened while this gateway was not listening (before it started,
 * while its connection was broken) is never sent, so after every (re)connect each channel's {@code resync} runs
 * (after {@code LISTEN}, so nothing between the two is missed): a feature reloads what it keeps from the database
 * there. Handlers run on the listening thread, one notification at a time, and must be quick. Thread-safe.
 */
@Component
public class PostgresNotifications implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(PostgresNotifications.class);
    private static final int POLL_MILLIS = 500;
    private static final long RETRY_MILLIS = 1000;

    private final DataSource dataSource;
    private final Map<String, Channel> channels = new ConcurrentHashMap<>();
    private final Counter received;
    private final Counter reconnects;
    private final BackgroundLoop listener = BackgroundLoop.interruptible("pg-notifications", this::listenOnce);
    private volatile boolean connected;
    /** Whether the last connection failed (only the listening thread reads and writes it). */
    private boolean failing;

    public PostgresNotifications(DataSource dataSource, MeterRegistry meters) {
        this.dataSource = dataSource;
        this.received = Counter.builder("gpu.gateway.pg.notifications")
                .description("PostgreSQL notifications received (queue and key changes)")
                .register(meters);
        this.reconnects = Counter.builder("gpu.gateway.pg.notifications.resyncs")
                .description("Times the notification connection was (re)established and its listeners reloaded")
                .register(meters);
    }

    /** One channel's handlers. */
    private record Channel(List<Consumer<String>> handlers, List<Runnable> resyncs) {}

    /**
     * Registers for {@code channel}: {@code handler} gets each payload; {@code resync} runs after every (re)connect,
     * before the first payload that follows it. Register before the application starts.
     */
    public void listen(String channel, Consumer<String> handler, Runnable resync) {
        if (!channel.matches("[a-z_]{1,63}")) {
            throw new IllegalArgumentException("channel names are lower-case letters and '_': " + channel);
        }
        Channel c = channels.computeIfAbsent(
                channel, k -> new Channel(new CopyOnWriteArrayList<>(), new CopyOnWriteArrayList<>()));
        c.handlers().add(handler);
        if (resync != null) {
            c.resyncs().add(resync);
        }
    }

    /** Whether the listening connection is up (notifications flow). */
    public boolean isConnected() {
        return connected;
    }

    @Override
    public void start() {
        listener.start();
    }

    @Override
    public void stop() {
        listener.stop();
        connected = false;
    }

    @Override
    public boolean isRunning() {
        return listener.isRunning();
    }

    /** Early: the indexes it feeds are needed before the web server and the listeners start. */
    @Override
    public int getPhase() {
        return Integer.MIN_VALUE + 100;
    }

    /** One listening connection, from connect until it fails or the loop stops; a failure waits before the next. */
    private void listenOnce() throws InterruptedException {
        try (Connection connection = dataSource.getConnection()) {
            connection.setAutoCommit(true);
            PGConnection pg = connection.unwrap(PGConnection.class);
            try (Statement statement = connection.createStatement()) {
                for (String channel : channels.keySet()) {
                    statement.execute("LISTEN " + channel);
                }
            }
            for (Channel channel : channels.values()) {
                for (Runnable resync : channel.resyncs()) {
                    resync.run();
                }
            }
            reconnects.increment();
            connected = true;
            if (failing) {
                log.info("PostgreSQL notifications flow again (listeners reloaded)");
                failing = false;
            }
            while (listener.isRunning()) {
                PGNotification[] batch = pg.getNotifications(POLL_MILLIS);
                if (batch == null) {
                    continue;
                }
                for (PGNotification n : batch) {
                    received.increment();
                    Channel channel = channels.get(n.getName());
                    if (channel == null) {
                        continue;
                    }
                    for (Consumer<String> handler : channel.handlers()) {
                        try {
                            handler.accept(n.getParameter());
                        } catch (RuntimeException e) {
                            log.warn("Notification on {} not handled: {}", n.getName(), e.toString());
                        }
                    }
                }
            }
            connected = false;
        } catch (SQLException | RuntimeException e) {
            connected = false;
            if (!listener.isRunning()) {
                return;
            }
            if (!failing) {
                log.warn(
                        "PostgreSQL notifications interrupted ({}); reconnecting every {} ms",
                        e.getClass().getSimpleName(),
                        RETRY_MILLIS);
                failing = true;
            }
            Thread.sleep(RETRY_MILLIS);
        }
    }
}
