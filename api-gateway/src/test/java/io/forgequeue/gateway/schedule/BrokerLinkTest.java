package io.forgequeue.gateway.schedule;

import com.rabbitmq.client.ShutdownSignalException;
import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

class BrokerLinkTest {

    private final AtomicLong now = new AtomicLong(1_000);
    private final BrokerLink link = new BrokerLink(now::get);

    @Test
    void isDownUntilAConnectionIsCreated() {
        assertThat(link.isUp()).isFalse();
        assertThat(link.hearingSinceNanos(now.get())).isEqualTo(1_000);

        link.onCreate(null);
        now.set(5_000);

        assertThat(link.isUp()).isTrue();
        assertThat(link.hearingSinceNanos(now.get())).as("since the connection came up").isEqualTo(1_000);
    }

    @Test
    void aLostConnectionIsDownAndTheHearingStartsAgainWhenItIsBack() {
        link.onCreate(null);
        now.set(2_000);
        link.onShutDown(new ShutdownSignalException(true, false, null, null));

        assertThat(link.isUp()).isFalse();
        now.set(3_000);
        assertThat(link.hearingSinceNanos(now.get())).as("hears nothing while down").isEqualTo(3_000);

        now.set(4_000);
        link.onCreate(null);
        now.set(9_000);
        assertThat(link.isUp()).isTrue();
        assertThat(link.hearingSinceNanos(now.get())).isEqualTo(4_000);
    }

    @Test
    void aFailedConnectionAttemptOrACloseIsDown() {
        link.onCreate(null);
        link.onFailed(new RuntimeException("refused"));
        assertThat(link.isUp()).isFalse();

        link.onCreate(null);
        link.onClose(null);
        assertThat(link.isUp()).isFalse();
    }

    @Test
    void anotherConnectionCreatedWhileUpDoesNotRestartTheHearing() {
        link.onCreate(null);
        now.set(7_000);
        link.onCreate(null);

        assertThat(link.hearingSinceNanos(now.get())).isEqualTo(1_000);
    }
}
