package io.forgequeue.gateway.schedule;

import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.anyInt;
import static org.mockito.Mockito.inOrder;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.times;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import io.forgequeue.gateway.apikey.ApiKeys;
import io.forgequeue.gateway.fleet.FleetProperties;
import io.forgequeue.gateway.fleet.WorkerDirectory;
import io.forgequeue.gateway.job.JobMoves;
import io.forgequeue.gateway.queue.JobState;
import io.forgequeue.gateway.queue.QueueIndex;
import io.forgequeue.gateway.queue.QueueStats;
import io.forgequeue.gateway.quota.Priority;
import io.forgequeue.gateway.quota.Quota;
import io.forgequeue.gateway.system.GatewayMetrics;
import io.forgequeue.gateway.system.JobMessageTemplate;
import io.forgequeue.gateway.system.WireJson;
import io.forgequeue.model.JobStatus;
import io.forgequeue.model.WorkerState;
import io.forgequeue.model.WorkerStatus;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.mockito.InOrder;
import org.springframework.amqp.rabbit.core.RabbitTemplate;

/**
 * The scheduler's decisions do not wait for quota look-ups (issue 21): every round caches the quotas of all keys
 * with waiting jobs in one call before it picks, so a decision reads quotas from memory however many keys there are.
 */
class DispatcherQuotaTest {

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final QueueIndex index = new QueueIndex(SchedulerPolicy.FAIR.order(), System::nanoTime);
    private final WorkerDirectory fleet =
            new WorkerDirectory(new FleetProperties(Duration.ofSeconds(5), Duration.ofMinutes(10)));
    private final JobMoves moves = mock(JobMoves.class);
    private final ApiKeys keys = mock(ApiKeys.class);
    private final Dispatcher dispatcher = new Dispatcher(
            mock(SchedulerLease.class),
            index,
            fleet,
            moves,
            keys,
            new JobMessageTemplate(mock(RabbitTemplate.class)),
            mock(RabbitTemplate.class),
            mock(WireJson.class),
            TestSchedulerProperties.defaults(false),
            new SchedulerMetrics(registry, new GatewayMetrics(registry)),
            mock(QueueStats.class),
            Brokers.connected());

    @Test
    void aRoundCachesTheQuotasOfEveryWaitingKeyInOneCallBeforeItPicks() {
        Set<UUID> owners = new HashSet<>();
        for (int i = 0; i < 50; i++) {
            UUID owner = UUID.randomUUID();
            owners.add(owner);
            index.apply(new JobState(
                    UUID.randomUUID(),
                    1,
                    JobStatus.QUEUED,
                    "default",
                    owner,
                    1,
                    i,
                    i + 1,
                    null,
                    null,
                    1.0,
                    0L,
                    null,
                    0,
                    0L,
                    0L));
        }
        fleet.accept(new WorkerStatus(
                "w1", UUID.randomUUID(), "default", WorkerState.READY, 1, null, null, 1000, Instant.now()));
        when(keys.quotaOf(any())).thenReturn(new Quota(50, 0, 1.0, Priority.NORMAL));
        when(moves.assignAll(any(), anyInt(), any())).thenReturn(List.of());

        dispatcher.start();
        dispatcher.round(new JobMoves.Lease("gw-1", 1));

        InOrder order = inOrder(keys);
        order.verify(keys).loadQuotas(owners);
        order.verify(keys, org.mockito.Mockito.atLeastOnce()).quotaOf(any());
        verify(keys, times(1)).loadQuotas(any());
        // every job chosen for the worker (its two slots) was timed as a pick, the in-memory part of a decision
        org.assertj.core.api.Assertions.assertThat(
                        registry.get("gpu.gateway.scheduler.picks").timer().count())
                .isEqualTo(2);
    }
}
