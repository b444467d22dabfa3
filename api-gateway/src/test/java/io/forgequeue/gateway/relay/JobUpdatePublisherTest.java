package io.forgequeue.gateway.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import io.forgequeue.gateway.job.JobChanged;
import io.forgequeue.gateway.job.JobRow;
import io.forgequeue.gateway.job.JobView;
import io.forgequeue.gateway.job.JobViews;
import io.forgequeue.gateway.system.GatewayMetrics;
import io.forgequeue.gateway.system.InstanceProperties;
import io.forgequeue.gateway.system.WireJson;
import io.forgequeue.model.JobStatus;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.amqp.rabbit.core.RabbitTemplate;

/** The relay of committed changes does not hold up the thread that committed them (the scheduler's, issue 21). */
class JobUpdatePublisherTest {

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final JobViews views = mock(JobViews.class);
    private final JobSocketHandler sockets = mock(JobSocketHandler.class);
    private final WireJson json = mock(WireJson.class);
    private final CountDownLatch viewMayFinish = new CountDownLatch(1);
    private final JobUpdatePublisher publisher = new JobUpdatePublisher(
            mock(RabbitTemplate.class),
            views,
            json,
            sockets,
            new InstanceProperties("gw-test"),
            new RelayProperties(
                    Duration.ofSeconds(5),
                    Duration.ofMillis(75),
                    List.of("*"),
                    16384,
                    Duration.ofSeconds(10),
                    1000,
                    4,
                    Duration.ofSeconds(5),
                    50000,
                    10,
                    200),
            new GatewayMetrics(registry),
            registry);

    @AfterEach
    void stop() {
        viewMayFinish.countDown();
        publisher.stop();
    }

    @Test
    void aChangesViewIsBuiltOnTheSendersThreadWhileTheCommittingThreadGoesOn() throws InterruptedException {
        List<String> builtOn = new CopyOnWriteArrayList<>();
        when(views.toView(any())).thenAnswer(call -> {
            builtOn.add(Thread.currentThread().getName());
            viewMayFinish.await(10, TimeUnit.SECONDS);
            return mock(JobView.class);
        });
        when(json.toBytes(any())).thenReturn(new byte[] {'{', '}'});
        JobRow row = mock(JobRow.class);
        when(row.id()).thenReturn(UUID.randomUUID());
        when(row.status()).thenReturn(JobStatus.QUEUED);
        publisher.start();

        publisher.onJobChanged(new JobChanged(row, JobStatus.QUEUED, null));

        // the committing thread is back while the view is still being built (it waits for the latch)
        await().atMost(Duration.ofSeconds(5)).until(() -> builtOn.size() == 1);
        assertThat(builtOn.get(0)).isNotEqualTo(Thread.currentThread().getName());

        viewMayFinish.countDown();
        await().atMost(Duration.ofSeconds(5))
                .untilAsserted(() -> verify(sockets).onUpdate(any()));
    }
}
