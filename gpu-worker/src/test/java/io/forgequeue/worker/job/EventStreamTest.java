package io.forgequeue.worker.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.forgequeue.model.GeneratedImage;
import io.forgequeue.model.JobEvent;
import io.forgequeue.model.JobProgressed;
import io.forgequeue.model.JobStarted;
import io.forgequeue.model.JobSucceeded;
import io.forgequeue.worker.system.WorkerProperties;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.springframework.amqp.AmqpException;
import org.springframework.amqp.rabbit.connection.CorrelationData;

class EventStreamTest {

    private static final UUID JOB = UUID.randomUUID();
    private static final Instant NOW = Instant.parse("2026-11-22T10:00:00Z");

    /** Records what was sent; each awaitConfirm answers with the next scripted verdict (true = confirmed). */
    private static final class ScriptedSink implements EventStream.Sink {
        final List<JobEvent> sent = new ArrayList<>();
        final Deque<Boolean> verdicts = new ArrayDeque<>();
        int awaited;

        @Override
        public CorrelationData send(JobEvent event) {
            sent.add(event);
            return new CorrelationData(event.jobId().toString());
        }

        @Override
        public void whenConfirmed(CorrelationData correlation, JobEvent event) {}

        @Override
        public void awaitConfirm(CorrelationData correlation, JobEvent event, Duration timeout) {
            awaited++;
            Boolean ok = verdicts.poll();
            if (ok == null || !ok) {
                throw new AmqpException("broker nack: reject-publish") {};
            }
        }
    }

    private final ScriptedSink sink = new ScriptedSink();
    private final List<Duration> pauses = new ArrayList<>();

    private EventStream stream(Duration retryFor) {
        return new EventStream(
                sink,
                Duration.ofSeconds(1),
                new WorkerProperties.Outcome(retryFor, Duration.ofMillis(100), Duration.ofMillis(350)),
                pauses::add);
    }

    private static JobSucceeded succeeded(long seq) {
        return new JobSucceeded(
                JOB,
                1,
                "w",
                seq,
                NOW,
                List.of(new GeneratedImage(0, 7, "image/png", 8, 8, new byte[] {1, 2, 3})),
                Map.of());
    }

    @Test
    void numbersEventsInOrderAndClosesAfterTheOutcome() {
        EventStream events = stream(Duration.ofSeconds(10));
        sink.verdicts.add(true);

        assertThat(events.send(seq -> new JobStarted(JOB, 1, "w", seq, NOW, Map.of())))
                .isTrue();
        assertThat(events.send(seq -> new JobProgressed(JOB, 1, "w", seq, NOW, 5, 10, 50, 1.0)))
                .isTrue();
        JobEvent outcome = events.finish(EventStreamTest::succeeded);

        assertThat(outcome.seq()).isEqualTo(3);
        assertThat(events.send(seq -> new JobProgressed(JOB, 1, "w", seq, NOW, 9, 10, 90, 0.1)))
                .as("late progress after the outcome is dropped")
                .isFalse();
        assertThat(sink.sent).extracting(JobEvent::seq).containsExactly(1L, 2L, 3L);
        assertThat(pauses).isEmpty();
    }

    @Test
    void sendsARefusedOutcomeAgainUnchangedWithGrowingPausesUntilItIsConfirmed() {
        EventStream events = stream(Duration.ofSeconds(10));
        sink.verdicts.addAll(List.of(false, false, false, false, true));

        JobEvent outcome = events.finish(EventStreamTest::succeeded);

        assertThat(sink.sent).hasSize(5).containsOnly(outcome);
        assertThat(outcome.seq()).isEqualTo(1);
        assertThat(pauses)
                .containsExactly(
                        Duration.ofMillis(100), Duration.ofMillis(200), Duration.ofMillis(350), Duration.ofMillis(350));
    }

    @Test
    void givesUpAfterRetryForSoTheJobCanGoBackToTheQueue() {
        EventStream events = stream(Duration.ZERO);

        assertThatThrownBy(() -> events.finish(EventStreamTest::succeeded))
                .isInstanceOf(AmqpException.class)
                .hasMessageContaining("nack");
        assertThat(sink.sent).hasSize(1);
        assertThat(pauses).isEmpty();
    }

    @Test
    void stopsRetryingWhenInterrupted() {
        EventStream events = new EventStream(
                sink,
                Duration.ofSeconds(1),
                new WorkerProperties.Outcome(Duration.ofMinutes(1), Duration.ofMillis(100), Duration.ofSeconds(1)),
                d -> {
                    throw new InterruptedException();
                });

        assertThatThrownBy(() -> events.finish(EventStreamTest::succeeded)).isInstanceOf(AmqpException.class);
        assertThat(Thread.interrupted())
                .as("the interrupt is kept for the caller")
                .isTrue();
        assertThat(sink.sent).hasSize(1);
    }
}
