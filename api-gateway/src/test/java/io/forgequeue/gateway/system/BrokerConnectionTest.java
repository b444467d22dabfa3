package io.forgequeue.gateway.system;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.Mockito.mock;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.rabbitmq.client.ShutdownSignalException;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;
import org.springframework.amqp.AmqpIOException;
import org.springframework.amqp.rabbit.connection.ConnectionFactory;

/** When the broker connection counts as up, and since when the scheduler can hear the workers through it. */
class BrokerConnectionTest {

    private final AtomicLong now = new AtomicLong(1_000);
    private final BrokerConnection link = new BrokerConnection(
            mock(ConnectionFactory.class), new GatewayMetrics(new SimpleMeterRegistry()), now::get);

    @Test
    void isDownUntilAConnectionIsCreated() {
        assertThat(link.isConnected()).isFalse();
        assertThat(link.hearingSinceNanos(now.get())).isEqualTo(1_000);

        link.onCreate(null);
        now.set(5_000);

        assertThat(link.isConnected()).isTrue();
        assertThat(link.hearingSinceNanos(now.get()))
                .as("since the connection came up")
                .isEqualTo(1_000);
    }

    @Test
    void aLostConnectionIsDownAndTheHearingStartsAgainWhenItIsBack() {
        link.onCreate(null);
        now.set(2_000);
        link.onShutDown(new ShutdownSignalException(true, false, null, null));

        assertThat(link.isConnected()).isFalse();
        now.set(3_000);
        assertThat(link.hearingSinceNanos(now.get()))
                .as("hears nothing while down")
                .isEqualTo(3_000);

        now.set(4_000);
        link.onCreate(null);
        now.set(9_000);
        assertThat(link.isConnected()).isTrue();
        assertThat(link.hearingSinceNanos(now.get())).isEqualTo(4_000);
    }

    @Test
    void onlyAConnectionThatReplacedALostOneIsAReconnection() {
        link.onCreate(null);
        assertThat(link.isReconnection()).as("the first connection").isFalse();
        link.onShutDown(new ShutdownSignalException(true, false, null, null));
        assertThat(link.isReconnection()).as("while down").isFalse();

        link.onCreate(null);
        link.onCreate(null); // a second connection of the factory while the first is up changes nothing

        assertThat(link.isReconnection()).isTrue();
    }

    // Issue 19: a gateway that does not trust the broker's certificate says so once, clearly, not on every retry.
    @Test
    void aRefusedTlsHandshakeIsLoggedOnceAtErrorUntilAConnectionIsMade() {
        ListAppender<ILoggingEvent> logged = new ListAppender<>();
        Logger logger = (Logger) LoggerFactory.getLogger(BrokerConnection.class);
        logged.start();
        logger.addAppender(logged);
        AmqpIOException untrusted = new AmqpIOException(new SSLHandshakeException("PKIX path building failed"));
        try {
            link.onFailed(untrusted);
            link.onFailed(untrusted);
            link.onFailed(new RuntimeException("refused"));
            link.onCreate(null);
            link.onFailed(untrusted);
        } finally {
            logger.detachAppender(logged);
        }

        assertThat(logged.list)
                .filteredOn(e -> e.getLevel() == Level.ERROR)
                .hasSize(2)
                .allSatisfy(e -> assertThat(e.getFormattedMessage())
                        .contains(
                                "Broker TLS handshake failed",
                                "PKIX path building failed",
                                "spring.rabbitmq.ssl.bundle"));
    }

    @Test
    void aFailedConnectionAttemptOrACloseIsDown() {
        link.onCreate(null);
        link.onFailed(new RuntimeException("refused"));
        assertThat(link.isConnected()).isFalse();

        link.onCreate(null);
        link.onClose(null);
        assertThat(link.isConnected()).isFalse();
    }

    @Test
    void anotherConnectionCreatedWhileUpDoesNotRestartTheHearing() {
        link.onCreate(null);
        now.set(7_000);
        link.onCreate(null);

        assertThat(link.hearingSinceNanos(now.get())).isEqualTo(1_000);
    }
}
