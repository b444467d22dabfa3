package io.forgequeue.gateway.schedule;

import static org.mockito.ArgumentMatchers.anyLong;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

import io.forgequeue.gateway.system.BrokerConnection;

/** Broker connections for scheduler tests that drive rounds by hand. */
final class Brokers {

    private Brokers() {}

    /** Connected since {@code sinceNanos} ({@link System#nanoTime()} scale). */
    static BrokerConnection connectedSince(long sinceNanos) {
        BrokerConnection broker = mock(BrokerConnection.class);
        when(broker.isConnected()).thenReturn(true);
        when(broker.hearingSinceNanos(anyLong())).thenReturn(sinceNanos);
        return broker;
    }

    /** Connected for as long as anyone can tell: workers are judged from the first round. */
    static BrokerConnection connected() {
        return connectedSince(Long.MIN_VALUE / 2);
    }
}
