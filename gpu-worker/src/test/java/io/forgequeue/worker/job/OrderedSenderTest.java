package io.forgequeue.worker.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.anyString;
import static org.mockito.Mockito.doAnswer;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import com.rabbitmq.client.Channel;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.amqp.core.Message;
import org.springframework.amqp.core.MessageProperties;
import org.springframework.amqp.rabbit.connection.ChannelProxy;
import org.springframework.amqp.rabbit.connection.CorrelationData;
import org.springframework.amqp.rabbit.core.ChannelCallback;
import org.springframework.amqp.rabbit.core.RabbitOperations;
import org.springframework.amqp.rabbit.core.RabbitTemplate;

/** The order of events and the channel they leave on. */
class OrderedSenderTest {

    /** One channel per {@code invoke}: its target, and the events sent on it ("channel#:body"). */
    private final List<Channel> targets = new CopyOnWriteArrayList<>();

    private final List<String> sent = new CopyOnWriteArrayList<>();
    private final OrderedSender sender = new OrderedSender(template(), Duration.ofSeconds(10));

    {
        sender.start();
    }

    @AfterEach
    void stop() {
        sender.close();
    }

    @Test
    void eventsAcknowledgedByTheBrokerKeepTheirChannelAndTheirOrder() {
        CorrelationData first = send("a");
        await().until(() -> sent.size() == 1);
        first.getFuture().complete(new CorrelationData.Confirm(true, null));
        send("b");
        send("c");

        await().until(() -> sent.size() == 3);
        assertThat(sent).containsExactly("1:a", "1:b", "1:c");
        assertThat(targets).hasSize(1);
    }

    @Test
    void afterTheBrokerRefusesAnEventTheNextOnesGoOutOnANewChannelAndTheRefusingOneIsClosed() throws Exception {
        CorrelationData refused = send("outcome");
        await().until(() -> sent.size() == 1);
        refused.getFuture().complete(new CorrelationData.Confirm(false, null)); // the broker's nack

        send("outcome again");
        send("next");

        await().until(() -> sent.size() == 3);
        assertThat(sent).containsExactly("1:outcome", "2:outcome again", "2:next");
        verify(targets.get(0)).close();
        verify(targets.get(1), never()).close();
    }

    @Test
    void anEventThatNeverReachedTheBrokerDoesNotCostTheChannel() throws Exception {
        OrderedSender stopped = new OrderedSender(template(), Duration.ofSeconds(10));
        stopped.close();
        CorrelationData notSent = new CorrelationData("x");
        stopped.send("forge.events", "job.succeeded", message("x"), notSent);
        assertThat(notSent.getFuture().get().isAck()).isFalse();

        send("a");
        await().until(() -> sent.size() == 1);
        assertThat(sent).containsExactly("1:a");
    }

    private CorrelationData send(String body) {
        CorrelationData correlation = new CorrelationData(body);
        sender.send("forge.events", "job.succeeded", message(body), correlation);
        return correlation;
    }

    private static Message message(String body) {
        return new Message(body.getBytes(), new MessageProperties());
    }

    @SuppressWarnings("unchecked")
    private RabbitTemplate template() {
        RabbitTemplate template = mock(RabbitTemplate.class);
        when(template.invoke(any(RabbitOperations.OperationsCallback.class))).thenAnswer(call -> {
            Channel target = mock(Channel.class);
            targets.add(target);
            int number = targets.size();
            ChannelProxy proxy = mock(ChannelProxy.class);
            when(proxy.getTargetChannel()).thenReturn(target);
            RabbitOperations ops = mock(RabbitOperations.class);
            doAnswer(send -> {
                        Message m = send.getArgument(2);
                        sent.add(number + ":" + new String(m.getBody()));
                        return null;
                    })
                    .when(ops)
                    .send(anyString(), anyString(), any(Message.class), any(CorrelationData.class));
            when(ops.execute(any(ChannelCallback.class)))
                    .thenAnswer(exec -> ((ChannelCallback<Object>) exec.getArgument(0)).doInRabbit(proxy));
            return ((RabbitOperations.OperationsCallback<Object>) call.getArgument(0)).doInRabbit(ops);
        });
        return template;
    }
}
