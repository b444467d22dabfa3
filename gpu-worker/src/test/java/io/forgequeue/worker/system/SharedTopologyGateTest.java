package io.forgequeue.worker.system;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.anyBoolean;
import static org.mockito.ArgumentMatchers.anyString;
import static org.mockito.Mockito.doAnswer;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.times;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import com.rabbitmq.client.Channel;
import io.forgequeue.model.Topology;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.springframework.amqp.AmqpConnectException;
import org.springframework.amqp.core.AmqpAdmin;
import org.springframework.amqp.rabbit.connection.Connection;
import org.springframework.amqp.rabbit.connection.ConnectionFactory;

/** A worker started before any gateway waits for the gateway's exchanges, then declares its bindings again. */
class SharedTopologyGateTest {

    private final ConnectionFactory connectionFactory = mock(ConnectionFactory.class);
    private final Connection connection = mock(Connection.class);
    private final Channel channel = mock(Channel.class);
    private final AmqpAdmin admin = mock(AmqpAdmin.class);

    @Test
    void waitsUntilTheGatewayDeclaredTheExchangesThenDeclaresItsOwnBindingsAgain() throws Exception {
        when(connectionFactory.createConnection()).thenReturn(connection);
        when(connection.createChannel(anyBoolean())).thenReturn(channel);
        AtomicInteger checks = new AtomicInteger();
        doAnswer(call -> {
                    if (call.getArgument(0).equals(Topology.CONTROL_EXCHANGE) && checks.incrementAndGet() <= 2) {
                        throw new IOException("404 NOT_FOUND - no exchange");
                    }
                    return null;
                })
                .when(channel)
                .exchangeDeclarePassive(anyString());
        SharedTopologyGate gate = new SharedTopologyGate(connectionFactory, admin, Duration.ofMillis(10));

        gate.start();

        assertThat(checks.get()).as("checks of forge.control until it existed").isEqualTo(3);
        verify(channel).exchangeDeclarePassive(Topology.EVENTS_EXCHANGE);
        verify(channel, never())
                .exchangeDeclarePassive("forge.jobs"); // no gateway declares it any more: waiting for it never ends
        verify(admin, times(1)).initialize();
        assertThat(gate.isRunning()).isTrue();
    }

    @Test
    void doesNotWaitWhenTheExchangesExistOrTheBrokerDoesNotAnswer() throws Exception {
        when(connectionFactory.createConnection()).thenReturn(connection);
        when(connection.createChannel(anyBoolean())).thenReturn(channel);
        new SharedTopologyGate(connectionFactory, admin, Duration.ofMillis(10)).start();

        ConnectionFactory down = mock(ConnectionFactory.class);
        when(down.createConnection()).thenThrow(new AmqpConnectException(new IOException("refused")));
        SharedTopologyGate gate = new SharedTopologyGate(down, admin, Duration.ofMillis(10));
        gate.start();

        assertThat(gate.isRunning()).isTrue();
        verify(admin, never()).initialize();
    }
}
