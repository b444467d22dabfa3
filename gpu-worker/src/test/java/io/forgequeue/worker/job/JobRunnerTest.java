package io.forgequeue.worker.job;

import static io.forgequeue.model.fixtures.JobSpecBuilder.aSpec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.InstanceOfAssertFactories.LIST;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.anyLong;
import static org.mockito.Mockito.doReturn;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.times;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import io.forgequeue.model.ErrorCode;
import io.forgequeue.model.GeneratedImage;
import io.forgequeue.model.JobCancelled;
import io.forgequeue.model.JobEvent;
import io.forgequeue.model.JobFailed;
import io.forgequeue.model.JobMessage;
import io.forgequeue.model.JobRequeued;
import io.forgequeue.model.JobSpec;
import io.forgequeue.model.JobStarted;
import io.forgequeue.model.JobSucceeded;
import io.forgequeue.worker.cancel.CancelledJobs;
import io.forgequeue.worker.forge.ForgeClient;
import io.forgequeue.worker.forge.ForgeExceptions;
import io.forgequeue.worker.forge.ForgeFailure;
import io.forgequeue.worker.forge.Txt2ImgResult;
import io.forgequeue.worker.system.WorkerMetrics;
import io.forgequeue.worker.system.WorkerProperties;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import org.junit.jupiter.api.Test;
import org.springframework.amqp.rabbit.connection.CorrelationData;
import org.springframework.context.event.ContextClosedEvent;
import org.springframework.util.unit.DataSize;

/**
 * The decisions of {@link JobRunner}, with Forge and the broker faked: which outcome event one delivery ends with,
 * and what happens to its message. The decisions before the run (taken back, cancelled, too many attempts,
 * impossible spec, shutting down) never call Forge. {@code WorkerIT} runs the same paths against a real broker.
 */
class JobRunnerTest {

    private static final String WORKER = "gpu-a";
    private static final int MAX_ATTEMPTS = 3;
    private static final Instant NOW = Instant.parse("2026-12-06T12:00:00Z");

    private final Rig rig = new Rig(DataSize.ofMegabytes(10));
    private final ForgeClient forge = rig.forge;
    private final List<JobEvent> published = rig.published;
    private final CancelledJobs cancelledJobs = rig.cancelledJobs;
    private final ShutdownGrace shutdown = rig.shutdown;
    private final JobRunner runner = rig.runner;

    /** A runner with a faked Forge and broker (every event is confirmed at once) and real cancel memory. */
    private static final class Rig {

        final ForgeClient forge = mock(ForgeClient.class);
        final JobEventPublisher publisher = mock(JobEventPublisher.class);
        final List<JobEvent> published = new CopyOnWriteArrayList<>();
        final SimpleMeterRegistry registry = new SimpleMeterRegistry();
        final CancelledJobs cancelledJobs;
        final ShutdownGrace shutdown;
        final JobRunner runner;

        Rig(DataSize maxImageBytes) {
            Clock clock = Clock.fixed(NOW, ZoneOffset.UTC);
            WorkerProperties worker = properties(maxImageBytes);
            when(publisher.send(any())).thenAnswer(invocation -> {
                published.add(invocation.getArgument(0));
                return new CorrelationData();
            });
            when(forge.callTimeout()).thenReturn(Duration.ofSeconds(180));
            when(forge.interruptOwnCall()).thenReturn(true);
            ScheduledExecutorService scheduler = mock(ScheduledExecutorService.class);
            doReturn(mock(ScheduledFuture.class))
                    .when(scheduler)
                    .scheduleWithFixedDelay(any(), anyLong(), anyLong(), any());
            doReturn(mock(ScheduledFuture.class))
                    .when(scheduler)
                    .scheduleAtFixedRate(any(), anyLong(), anyLong(), any());
            cancelledJobs = new CancelledJobs(worker, clock);
            shutdown = new ShutdownGrace(worker);
            runner = new JobRunner(
                    forge, publisher, cancelledJobs, shutdown, worker, new WorkerMetrics(registry), scheduler, clock);
        }

        JobEvent outcome() {
            assertThat(published).isNotEmpty();
            return published.get(published.size() - 1);
        }

        double finished(String outcome, ErrorCode code) {
            var counter = registry.find("gpu.worker.jobs")
                    .tag("outcome", outcome)
                    .tag("code", code == null ? "none" : code.name())
                    .counter();
            return counter == null ? 0 : counter.count();
        }
    }

    private static WorkerProperties properties(DataSize maxImageBytes) {
        Duration hour = Duration.ofHours(1);
        return new WorkerProperties(
                WORKER,
                "default",
                MAX_ATTEMPTS,
                Duration.ofSeconds(30),
                Duration.ofSeconds(10),
                new WorkerProperties.Outcome(
                        Duration.ofSeconds(1), Duration.ofMillis(10), Duration.ofMillis(10), maxImageBytes),
                new WorkerProperties.Progress(
                        Duration.ofSeconds(10),
                        Duration.ofMillis(250),
                        Duration.ofSeconds(10),
                        false,
                        Duration.ofSeconds(2)),
                new WorkerProperties.Cancel(100, hour),
                new WorkerProperties.Presence(Duration.ofSeconds(1), Duration.ofSeconds(30)));
    }

    private static JobMessage job(int attempt, JobSpec spec) {
        return new JobMessage(UUID.randomUUID(), attempt, WORKER, 7, "default", spec, NOW.minusSeconds(5));
    }

    private static JobMessage job() {
        return job(1, aSpec().build());
    }

    private static Txt2ImgResult images(int count, int bytesEach) {
        List<GeneratedImage> images = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            images.add(new GeneratedImage(i, 1234 + i, "image/png", 512, 768, new byte[bytesEach]));
        }
        return new Txt2ImgResult(images, Map.of("seed", 1234), 900, count, 1, 2, true, false);
    }

    private JobEvent outcome() {
        return rig.outcome();
    }

    private double finished(String outcome, ErrorCode code) {
        return rig.finished(outcome, code);
    }

    @Test
    void skipsAnAttemptTakenBackBeforeItArrivedWithNoEventAndNoForgeCall() {
        JobMessage job = job(2, aSpec().build());
        cancelledJobs.stopAttempt(job.jobId(), 2);

        Disposition disposition = runner.run(job, System.nanoTime());

        assertThat(disposition).isEqualTo(Disposition.ACK);
        assertThat(published).isEmpty();
        verify(forge, never()).generate(any(), any(), any());
        assertThat(finished("skipped", null)).isEqualTo(1);
    }

    @Test
    void runsAnAttemptWhenOnlyAnEarlierAttemptOfTheJobWasTakenBack() {
        JobMessage job = job(2, aSpec().build());
        cancelledJobs.stopAttempt(job.jobId(), 1);
        when(forge.generate(any(), any(), any())).thenReturn(images(1, 100));

        Disposition disposition = runner.run(job, System.nanoTime());

        assertThat(disposition).isEqualTo(Disposition.ACK);
        assertThat(outcome()).isInstanceOf(JobSucceeded.class);
    }

    @Test
    void endsAJobItsOwnerCancelledBeforeItArrivedCancelledWithoutCallingForge() {
        JobMessage job = job();
        cancelledJobs.cancel(job.jobId());

        Disposition disposition = runner.run(job, System.nanoTime());

        assertThat(disposition).isEqualTo(Disposition.ACK);
        assertThat(published).singleElement().isInstanceOfSatisfying(JobCancelled.class, e -> {
            assertThat(e.jobId()).isEqualTo(job.jobId());
            assertThat(e.seq()).isEqualTo(1);
            assertThat(e.workerId()).isEqualTo(WORKER);
        });
        verify(forge, never()).generate(any(), any(), any());
        assertThat(finished("cancelled", null)).isEqualTo(1);
    }

    @Test
    void failsAnAttemptAboveTheLimitWithTooManyAttemptsWithoutCallingForge() {
        JobMessage job = job(MAX_ATTEMPTS + 1, aSpec().build());

        Disposition disposition = runner.run(job, System.nanoTime());

        assertThat(disposition).isEqualTo(Disposition.ACK);
        assertThat(published).singleElement().isInstanceOfSatisfying(JobFailed.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.TOO_MANY_ATTEMPTS);
            assertThat(e.attempt()).isEqualTo(MAX_ATTEMPTS + 1);
            assertThat(e.metadata()).containsEntry("maxAttempts", MAX_ATTEMPTS);
        });
        verify(forge, never()).generate(any(), any(), any());
    }

    @Test
    void runsTheLastAllowedAttempt() {
        when(forge.generate(any(), any(), any())).thenReturn(images(1, 100));

        Disposition disposition = runner.run(job(MAX_ATTEMPTS, aSpec().build()), System.nanoTime());

        assertThat(disposition).isEqualTo(Disposition.ACK);
        assertThat(outcome()).isInstanceOf(JobSucceeded.class);
    }

    @Test
    void failsAnImpossibleSpecWithInvalidSpecAndDeadLettersItWithoutCallingForge() {
        JobMessage job = job(1, aSpec().steps(0).build());

        Disposition disposition = runner.run(job, System.nanoTime());

        assertThat(disposition).isEqualTo(Disposition.DEAD_LETTER);
        assertThat(published).singleElement().isInstanceOfSatisfying(JobFailed.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.INVALID_SPEC);
            assertThat(e.retryable()).isFalse();
            assertThat(e.message()).contains("steps");
            assertThat(e.metadata().get("violations")).asInstanceOf(LIST).hasSize(1);
        });
        verify(forge, never()).generate(any(), any(), any());
    }

    @Test
    void givesBackAJobDeliveredWhileTheWorkerShutsDownWithoutCallingForge() {
        shutdown.onApplicationEvent(mock(ContextClosedEvent.class));

        Disposition disposition = runner.run(job(), System.nanoTime());

        assertThat(disposition).isEqualTo(Disposition.REQUEUE);
        assertThat(published)
                .singleElement()
                .isInstanceOfSatisfying(
                        JobRequeued.class, e -> assertThat(e.reason()).isEqualTo("worker shutting down"));
        verify(forge, never()).generate(any(), any(), any());
    }

    @Test
    void reportsStartedThenSucceededWithForgesImagesAndTheRequestedCheckpoint() {
        JobMessage job = job(1, aSpec().checkpoint("sdxl-base").build());
        when(forge.generate(any(), any(), any())).thenReturn(images(2, 100));

        Disposition disposition = runner.run(job, System.nanoTime());

        assertThat(disposition).isEqualTo(Disposition.ACK);
        assertThat(published).hasSize(2);
        assertThat(published.get(0))
                .isInstanceOfSatisfying(
                        JobStarted.class, e -> assertThat(e.seq()).isEqualTo(1));
        assertThat(published.get(1)).isInstanceOfSatisfying(JobSucceeded.class, e -> {
            assertThat(e.seq()).isEqualTo(2);
            assertThat(e.images()).hasSize(2);
            assertThat(e.metadata())
                    .containsEntry("checkpointRequested", "sdxl-base")
                    .containsEntry("seed", 1234);
        });
        verify(forge).generate(any(), any(), any());
        assertThat(finished("succeeded", null)).isEqualTo(1);
    }

    @Test
    void failsWithModelMismatchAndDeliversNoImageWhenForgeRanAnotherCheckpoint() {
        JobMessage job = job(1, aSpec().checkpoint("sdxl-base").build());
        when(forge.generate(any(), any(), any())).thenThrow(ForgeExceptions.modelMismatch("sdxl-base", "flux-dev"));

        Disposition disposition = runner.run(job, System.nanoTime());

        assertThat(disposition).isEqualTo(Disposition.ACK);
        assertThat(outcome()).isInstanceOfSatisfying(JobFailed.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.MODEL_MISMATCH);
            assertThat(e.message()).contains("flux-dev").contains("sdxl-base");
            assertThat(e.metadata())
                    .containsEntry("checkpointRequested", "sdxl-base")
                    .containsEntry("checkpointUsed", "flux-dev");
        });
        assertThat(published).noneMatch(JobSucceeded.class::isInstance);
        assertThat(finished("failed", ErrorCode.MODEL_MISMATCH)).isEqualTo(1);
    }

    @Test
    void failsWithImagesTooLargeInsteadOfSendingImagesAboveTheBound() {
        Rig small = new Rig(DataSize.ofKilobytes(2));
        when(small.forge.generate(any(), any(), any())).thenReturn(images(3, 1024));

        Disposition disposition = small.runner.run(job(), System.nanoTime());

        assertThat(disposition).isEqualTo(Disposition.ACK);
        assertThat(small.outcome()).isInstanceOfSatisfying(JobFailed.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.IMAGES_TOO_LARGE);
            assertThat(e.metadata())
                    .containsEntry("imagesReturned", 3)
                    .containsEntry("imageBytes", 3072L)
                    .containsEntry("maxImageBytes", 2048L);
        });
        assertThat(small.published).noneMatch(JobSucceeded.class::isInstance);
    }

    @Test
    void sendsImagesThatAddUpToExactlyTheBound() {
        Rig small = new Rig(DataSize.ofKilobytes(2));
        when(small.forge.generate(any(), any(), any())).thenReturn(images(2, 1024));

        small.runner.run(job(), System.nanoTime());

        assertThat(small.outcome()).isInstanceOf(JobSucceeded.class);
    }

    @Test
    void failsWithNoImagesWhenForgeAnsweredWithoutAnImage() {
        when(forge.generate(any(), any(), any())).thenReturn(images(0, 0));

        Disposition disposition = runner.run(job(), System.nanoTime());

        assertThat(disposition).isEqualTo(Disposition.ACK);
        assertThat(outcome())
                .isInstanceOfSatisfying(
                        JobFailed.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NO_IMAGES));
    }

    @Test
    void givesBackTheJobAndPausesConsumptionWhenForgeIsUnavailable() {
        when(forge.generate(any(), any(), any()))
                .thenThrow(ForgeExceptions.failure(ForgeFailure.UNAVAILABLE, "connection refused"));

        Disposition disposition = runner.run(job(), System.nanoTime());

        assertThat(disposition).isEqualTo(Disposition.REQUEUE_AND_PAUSE);
        assertThat(outcome()).isInstanceOf(JobRequeued.class);
    }

    @Test
    void failsWithForgeTimeoutWhenForgeDidNotAnswerInTime() {
        when(forge.generate(any(), any(), any()))
                .thenThrow(ForgeExceptions.failure(ForgeFailure.TIMEOUT, "read timed out"));

        Disposition disposition = runner.run(job(), System.nanoTime());

        assertThat(disposition).isEqualTo(Disposition.ACK);
        assertThat(outcome()).isInstanceOfSatisfying(JobFailed.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.FORGE_TIMEOUT);
            assertThat(e.message()).contains("180 s");
        });
    }

    @Test
    void failsWithWorkerErrorWhenTheRunThrowsSomethingUnexpected() {
        when(forge.generate(any(), any(), any())).thenThrow(new IllegalStateException("bug"));

        Disposition disposition = runner.run(job(), System.nanoTime());

        assertThat(disposition).isEqualTo(Disposition.ACK);
        assertThat(outcome()).isInstanceOfSatisfying(JobFailed.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.WORKER_ERROR);
            assertThat(e.metadata()).containsEntry("exception", IllegalStateException.class.getName());
        });
    }

    @Test
    void endsAJobItsOwnerCancelsWhileItRunsCancelledInterruptsForgeOnceAndDropsItsImages() {
        JobMessage job = job();
        when(forge.generate(any(), any(), any())).thenAnswer(invocation -> {
            cancelledJobs.cancel(job.jobId());
            return images(1, 100);
        });

        Disposition disposition = runner.run(job, System.nanoTime());

        assertThat(disposition).isEqualTo(Disposition.ACK);
        assertThat(outcome()).isInstanceOf(JobCancelled.class);
        assertThat(published).noneMatch(JobSucceeded.class::isInstance);
        verify(forge, times(1)).interruptOwnCall();
    }

    @Test
    void givesBackAnAttemptTheSchedulerStopsWhileItRunsNeverCancellingIt() {
        JobMessage job = job(2, aSpec().build());
        when(forge.generate(any(), any(), any())).thenAnswer(invocation -> {
            cancelledJobs.stopAttempt(job.jobId(), 2);
            return images(1, 100);
        });

        Disposition disposition = runner.run(job, System.nanoTime());

        assertThat(disposition).isEqualTo(Disposition.REQUEUE);
        assertThat(outcome())
                .isInstanceOfSatisfying(
                        JobRequeued.class, e -> assertThat(e.reason()).isEqualTo(JobRunner.TAKEN_BACK));
        verify(forge, times(1)).interruptOwnCall();
    }

    @Test
    void ignoresAStopOfAnotherAttemptWhileItRuns() {
        JobMessage job = job(2, aSpec().build());
        when(forge.generate(any(), any(), any())).thenAnswer(invocation -> {
            cancelledJobs.stopAttempt(job.jobId(), 1);
            cancelledJobs.stopAttempt(UUID.randomUUID(), 2);
            return images(1, 100);
        });

        Disposition disposition = runner.run(job, System.nanoTime());

        assertThat(disposition).isEqualTo(Disposition.ACK);
        assertThat(outcome()).isInstanceOf(JobSucceeded.class);
        verify(forge, never()).interruptOwnCall();
    }

    @Test
    void givesBackAJobSomeoneElseInterruptedOnASharedForge() {
        Txt2ImgResult interrupted = new Txt2ImgResult(images(1, 100).images(), Map.of(), 900, 1, 1, 2, true, true);
        when(forge.generate(any(), any(), any())).thenReturn(interrupted);

        Disposition disposition = runner.run(job(), System.nanoTime());

        assertThat(disposition).isEqualTo(Disposition.REQUEUE);
        assertThat(outcome()).isInstanceOf(JobRequeued.class);
    }

    @Test
    void statesTheTimeoutInTheFriendlyMessageAsConfigured() {
        assertThat(JobRunner.describe(Duration.ofSeconds(180))).isEqualTo("180 s");
        assertThat(JobRunner.describe(Duration.ofMillis(1500))).isEqualTo("1.5 s");
        assertThat(JobRunner.describe(Duration.ofMinutes(5))).isEqualTo("300 s");
    }

    @Test
    void statesImageSizesInUnitsAPersonReads() {
        assertThat(JobRunner.size(12_900_000)).isEqualTo("12.3 MB");
        assertThat(JobRunner.size(10L * 1024 * 1024)).isEqualTo("10.0 MB");
        assertThat(JobRunner.size(20 * 1024)).isEqualTo("20 KB");
        assertThat(JobRunner.size(100)).isEqualTo("1 KB");
    }
}
