package io.forgequeue.worker.system;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.io.IOException;
import java.net.ConnectException;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;
import org.springframework.amqp.AmqpConnectException;
import org.springframework.amqp.AmqpIOException;

class BrokerTlsFailuresTest {

    private final ListAppender<ILoggingEvent> logged = new ListAppender<>();
    private final Logger logger = (Logger) LoggerFactory.getLogger(BrokerTlsFailures.class);
    private final AtomicLong nanos = new AtomicLong();
    private final BrokerTlsFailures failures = new BrokerTlsFailures(nanos::get);

    @BeforeEach
    void listen() {
        logged.start();
        logger.addAppender(logged);
    }

    @AfterEach
    void stopListening() {
        logger.detachAppender(logged);
    }

    @Test
    void saysOnceAtErrorThatTheHandshakeFailedAndAgainOnlyAfterAMinuteOrAConnection() {
        AmqpIOException untrusted =
                new AmqpIOException(new IOException("wrapped", new SSLHandshakeException("PKIX path building failed")));

        failures.onFailed(untrusted);
        failures.onFailed(untrusted);
        nanos.addAndGet(BrokerTlsFailures.REPEAT_EVERY.toNanos());
        failures.onFailed(untrusted);
        failures.onCreate(null);
        failures.onFailed(untrusted);

        assertThat(logged.list).hasSize(3).allSatisfy(e -> {
            assertThat(e.getLevel().toString()).isEqualTo("ERROR");
            assertThat(e.getFormattedMessage())
                    .contains("Broker TLS handshake failed", "PKIX path building failed", "spring.rabbitmq.ssl.bundle");
        });
    }

    @Test
    void leavesOtherConnectionFailuresToTheirUsualLogs() {
        failures.onFailed(new AmqpConnectException(new ConnectException("Connection refused")));

        assertThat(logged.list).isEmpty();
    }
}
