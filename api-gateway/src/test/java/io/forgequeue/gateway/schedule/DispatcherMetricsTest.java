package io.forgequeue.gateway.schedule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.anyInt;
import static org.mockito.ArgumentMatchers.eq;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

import io.forgequeue.gateway.apikey.ApiKeys;
import io.forgequeue.gateway.fleet.FleetProperties;
import io.forgequeue.gateway.fleet.WorkerDirectory;
import io.forgequeue.gateway.job.JobMoves;
import io.forgequeue.gateway.job.JobRow;
import io.forgequeue.gateway.queue.QueueIndex;
import io.forgequeue.gateway.queue.QueueStats;
import io.forgequeue.gateway.quota.Priority;
import io.forgequeue.gateway.quota.Quota;
import io.forgequeue.gateway.system.GatewayMetrics;
import io.forgequeue.gateway.system.JobMessageTemplate;
import io.forgequeue.gateway.system.WireJson;
import io.forgequeue.model.ErrorCode;
import io.forgequeue.model.JobSpec;
import io.forgequeue.model.JobStatus;
import io.forgequeue.model.WorkerState;
import io.forgequeue.model.WorkerStatus;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.springframework.amqp.rabbit.core.RabbitTemplate;

/** What the scheduler's round counts: here, the jobs it fails itself. */
class DispatcherMetricsTest {

    private static final int MAX_ATTEMPTS = 5;

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final GatewayMetrics gatewayMetrics = new GatewayMetrics(registry);
    private final QueueIndex index = new QueueIndex(SchedulerPolicy.FAIR.order(), System::nanoTime);
    private final WorkerDirectory fleet =
            new WorkerDirectory(new FleetProperties(Duration.ofSeconds(5), Duration.ofMinutes(10)));
    private final JobMoves moves = mock(JobMoves.class);
    private final ApiKeys keys = mock(ApiKeys.class);
    private final JobMoves.Lease lease = new JobMoves.Lease("gw-1", 1);
    private final Dispatcher dispatcher = new Dispatcher(
            mock(SchedulerLease.class),
            index,
            fleet,
            moves,
            keys,
            new JobMessageTemplate(mock(RabbitTemplate.class)),
            mock(RabbitTemplate.class),
            mock(WireJson.class),
            // enabled=false: start() runs no thread of its own; the test drives the rounds
            TestSchedulerProperties.of(false, MAX_ATTEMPTS, Duration.ofSeconds(30), 32),
            new SchedulerMetrics(registry, gatewayMetrics),
            mock(QueueStats.class),
            Brokers.connected());

    // Bug regression (issue 16): a job the scheduler failed with TOO_MANY_ATTEMPTS was missing from
    // gpu_gateway_jobs_finished_total, so the failure ratio and "errors by code" never showed it.
    @Test
    void aJobFailedForTooManyAttemptsIsCountedAsFinishedWithItsCode() {
        gatewayMetrics.registerPools(List.of());
        UUID owner = UUID.randomUUID();
        JobRow waiting = row(owner, JobStatus.QUEUED, null, 1);
        index.apply(waiting.toQueueState());
        fleet.accept(new WorkerStatus(
                "w1", UUID.randomUUID(), "default", WorkerState.READY, 1, null, null, 1000, Instant.now()));
        when(keys.quotaOf(owner)).thenReturn(new Quota(50, 0, 1.0, Priority.NORMAL));
        when(moves.failTooManyAttempts(eq(waiting.id()), anyInt(), any()))
                .thenReturn(Optional.of(row(owner, JobStatus.FAILED, ErrorCode.TOO_MANY_ATTEMPTS.name(), 2)));

        dispatcher.start();
        dispatcher.round(lease);

        assertThat(finished("failed", "TOO_MANY_ATTEMPTS").count()).isEqualTo(1.0);
        assertThat(index.isWaiting(waiting.id())).isFalse();
    }

    private Counter finished(String outcome, String code) {
        return registry.find("gpu.gateway.jobs.finished")
                .tag("outcome", outcome)
                .tag("code", code)
                .tag("pool", "default")
                .counter();
    }

    private static final UUID JOB = UUID.randomUUID();

    private static JobRow row(UUID owner, JobStatus status, String errorCode, long version) {
        Instant now = Instant.now();
        return new JobRow(
                JOB,
                owner,
                "default",
                7,
                JobSpec.of("a lighthouse"),
                status,
                0,
                MAX_ATTEMPTS,
                0,
                null,
                errorCode,
                null,
                Map.of(),
                List.of(),
                null,
                now,
                null,
                status.isTerminal() ? now : null,
                null,
                version,
                1,
                1,
                0.0,
                1.0,
                null,
                null,
                now,
                null,
                null,
                null);
    }
}
