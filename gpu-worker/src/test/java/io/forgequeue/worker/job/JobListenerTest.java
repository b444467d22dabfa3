package io.forgequeue.worker.job;

import static io.forgequeue.model.fixtures.JobSpecBuilder.aSpec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.anyLong;
import static org.mockito.Mockito.inOrder;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import com.rabbitmq.client.Channel;
import io.forgequeue.model.JobMessage;
import io.forgequeue.model.WorkerStatus;
import io.forgequeue.worker.system.WireJson;
import io.forgequeue.worker.system.WorkerMetrics;
import io.forgequeue.worker.system.WorkerProperties;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.mockito.InOrder;
import org.springframework.amqp.AmqpException;
import org.springframework.amqp.AmqpRejectAndDontRequeueException;
import org.springframework.amqp.ImmediateAcknowledgeAmqpException;
import org.springframework.amqp.core.Message;
import org.springframework.amqp.core.MessageProperties;

/**
 * What the job listener does with a delivery: it returns normally (AUTO ack) only once the outcome is confirmed,
 * for a given-back job too; it rejects without requeue (dead-letter) what this worker must never run; it drops
 * (acks) a delivery whose outcome the broker would not confirm rather than requeue it to its own queue.
 */
class JobListenerTest {

    private static final String WORKER = "gpu-a";

    private final JobRunner runner = mock(JobRunner.class);
    private final ConsumptionControl consumption = mock(ConsumptionControl.class);
    private final Channel channel = mock(Channel.class);
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final Holding holding = new Holding();
    private final WireJson json = new WireJson();
    private final JobListener listener =
            new JobListener(runner, consumption, json, new WorkerMetrics(registry), holding, properties());

    private static WorkerProperties properties() {
        Duration hour = Duration.ofHours(1);
        return new WorkerProperties(
                WORKER,
                "default",
                5,
                Duration.ofSeconds(30),
                Duration.ofSeconds(10),
                new WorkerProperties.Outcome(hour, Duration.ofMillis(250), Duration.ofSeconds(5)),
                new WorkerProperties.Progress(
                        Duration.ofMillis(500),
                        Duration.ofMillis(250),
                        Duration.ofSeconds(10),
                        true,
                        Duration.ofSeconds(2)),
                new WorkerProperties.Cancel(100, hour),
                new WorkerProperties.Presence(Duration.ofSeconds(1), Duration.ofSeconds(30)));
    }

    private JobMessage job(String assignedTo) {
        return new JobMessage(UUID.randomUUID(), 2, assignedTo, 7, "default", aSpec().build(), Instant.now());
    }

    private Message delivery(JobMessage job) {
        return delivery(json.mapper().writeValueAsBytes(job));
    }

    private static Message delivery(byte[] body) {
        MessageProperties props = new MessageProperties();
        props.setConsumerTag("jobs-consumer");
        return new Message(body, props);
    }

    private double jobs(String outcome) {
        var counter = registry.find("gpu.worker.jobs")
                .tag("outcome", outcome)
                .tag("code", "none")
                .counter();
        return counter == null ? 0 : counter.count();
    }

    @Test
    void returnsNormallySoTheJobIsAckedOnceItsOutcomeIsConfirmedAGivenBackJobToo() {
        for (Disposition disposition : new Disposition[] {Disposition.ACK, Disposition.REQUEUE}) {
            JobMessage job = job(WORKER);
            when(runner.run(any(), anyLong())).thenReturn(disposition);

            assertThatCode(() -> listener.onJob(delivery(job), channel))
                    .as(disposition.name())
                    .doesNotThrowAnyException();
        }
        verify(consumption, never()).pauseUntilForgeAnswers();
        assertThat(holding.current()).isNull();
    }

    @Test
    void namesTheAssignmentItHoldsWhileTheJobRunsAndNothingAfterwards() {
        JobMessage job = job(WORKER);
        AtomicReference<WorkerStatus.Assignment> whileRunning = new AtomicReference<>();
        when(runner.run(any(), anyLong())).thenAnswer(invocation -> {
            whileRunning.set(holding.current());
            return Disposition.ACK;
        });

        listener.onJob(delivery(job), channel);

        assertThat(whileRunning.get()).isEqualTo(new WorkerStatus.Assignment(job.jobId(), 2));
        assertThat(holding.current()).isNull();
    }

    @Test
    void cancelsItsOwnConsumerBeforeAckingAJobGivenBackForAForgeOutageThenPauses() throws Exception {
        when(runner.run(any(), anyLong())).thenReturn(Disposition.REQUEUE_AND_PAUSE);

        listener.onJob(delivery(job(WORKER)), channel);

        InOrder order = inOrder(channel, consumption);
        order.verify(channel).basicCancel("jobs-consumer");
        order.verify(consumption).pauseUntilForgeAnswers();
    }

    @Test
    void deadLettersAnImpossibleJobOnceItsFailureIsConfirmed() {
        when(runner.run(any(), anyLong())).thenReturn(Disposition.DEAD_LETTER);

        assertThatThrownBy(() -> listener.onJob(delivery(job(WORKER)), channel))
                .isInstanceOf(AmqpRejectAndDontRequeueException.class);
        assertThat(holding.current()).isNull();
    }

    @Test
    void deadLettersAndCountsAJobAssignedToAnotherWorkerWithoutRunningIt() {
        assertThatThrownBy(() -> listener.onJob(delivery(job("gpu-b")), channel))
                .isInstanceOf(AmqpRejectAndDontRequeueException.class);

        verify(runner, never()).run(any(), anyLong());
        assertThat(jobs("rejected")).isEqualTo(1.0);
        assertThat(holding.current()).isNull();
    }

    @Test
    void deadLettersAndCountsAnUnreadableMessage() {
        assertThatThrownBy(() -> listener.onJob(delivery("{not json".getBytes(StandardCharsets.UTF_8)), channel))
                .isInstanceOf(AmqpRejectAndDontRequeueException.class);

        verify(runner, never()).run(any(), anyLong());
        assertThat(jobs("rejected")).isEqualTo(1.0);
    }

    /** Requeued, it would come straight back to this worker's own queue and run on Forge again. */
    @Test
    void dropsTheMessageWhenItsOutcomeCouldNotBeConfirmedInsteadOfRequeueingItToItself() {
        when(runner.run(any(), anyLong())).thenThrow(new AmqpException("SUCCEEDED event not confirmed: nack"));

        assertThatThrownBy(() -> listener.onJob(delivery(job(WORKER)), channel))
                .isInstanceOf(ImmediateAcknowledgeAmqpException.class);
        assertThat(holding.current()).isNull();
    }
}
