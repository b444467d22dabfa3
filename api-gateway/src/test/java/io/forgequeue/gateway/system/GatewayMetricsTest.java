package io.forgequeue.gateway.system;

import static org.assertj.core.api.Assertions.assertThat;

import io.forgequeue.model.ErrorCode;
import io.forgequeue.model.JobStatus;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The gateway's meters: tag values, series registered at zero, the cap on pool tags. */
class GatewayMetricsTest {

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final GatewayMetrics metrics = new GatewayMetrics(registry, new MetricsProperties(2, 20));

    @Test
    void everyOutcomeAndErrorCodeOfEveryConfiguredPoolIsRegisteredAtZero() {
        metrics.registerPools(List.of("gpu-a", "gpu-b"));

        for (String pool : List.of("gpu-a", "gpu-b")) {
            assertThat(finished("succeeded", "none", pool))
                    .isNotNull()
                    .extracting(Counter::count)
                    .isEqualTo(0.0);
            assertThat(finished("cancelled", "none", pool))
                    .isNotNull()
                    .extracting(Counter::count)
                    .isEqualTo(0.0);
            for (ErrorCode code : ErrorCode.values()) {
                assertThat(finished("failed", code.name(), pool))
                        .as("failed %s %s", code, pool)
                        .isNotNull()
                        .extracting(Counter::count)
                        .isEqualTo(0.0);
            }
            assertThat(registry.find("gpu.gateway.jobs.submitted")
                            .tag("pool", pool)
                            .counter())
                    .isNotNull();
            assertThat(registry.find("gpu.gateway.jobs.requeued")
                            .tag("pool", pool)
                            .counter())
                    .isNotNull();
            assertThat(registry.find("gpu.gateway.jobs.queue.wait")
                            .tag("pool", pool)
                            .timer())
                    .isNotNull();
            assertThat(registry.find("gpu.gateway.jobs.run.time")
                            .tag("pool", pool)
                            .timer())
                    .isNotNull();
            assertThat(registry.find("gpu.gateway.jobs.by-state")
                            .tag("pool", pool)
                            .gauges())
                    .hasSize(2);
        }
        assertThat(registry.find("gpu.gateway.jobs.finished").counters()).hasSize(2 * (2 + ErrorCode.values().length));
        assertThat(registry.find("gpu.gateway.jobs.finished")
                        .tag("pool", "default")
                        .counters())
                .as("the default pool is not registered when pools are configured")
                .isEmpty();
    }

    @Test
    void withoutConfiguredPoolsTheDefaultPoolIsRegistered() {
        metrics.registerPools(List.of());

        assertThat(finished("failed", "FORGE_TIMEOUT", "default")).isNotNull();
    }

    @Test
    void everyReasonKindAndFrameTypeIsRegisteredAtZeroBeforeAnyEvent() {
        assertThat(tagValues("gpu.gateway.jobs.refused", "reason"))
                .containsExactlyInAnyOrder("validation", "cap", "idempotency", "priority");
        assertThat(tagValues("gpu.gateway.events.rejected", "reason"))
                .containsExactlyInAnyOrder(
                        "duplicate",
                        "terminal",
                        "stale-attempt",
                        "revoked",
                        "unknown-assignment",
                        "illegal-transition",
                        "unknown-job",
                        "unreadable",
                        "error",
                        "wrong-publisher");
        assertThat(tagValues("gpu.gateway.worker-messages.refused", "kind"))
                .containsExactlyInAnyOrder("announcement", "preview");
        assertThat(tagValues("gpu.gateway.events.merged", "outcome")).containsExactlyInAnyOrder("applied", "late");
        assertThat(tagValues("gpu.gateway.outbox.published", "kind")).containsExactlyInAnyOrder("job", "cancel");
        assertThat(tagValues("gpu.gateway.outbox.failures", "reason"))
                .containsExactlyInAnyOrder("nack", "returned", "error");
        assertThat(tagValues("gpu.gateway.websocket.frames", "type"))
                .containsExactlyInAnyOrder("snapshot", "update", "position", "preview", "queue");
        assertThat(registry.find("gpu.gateway.jobs.stuck").counter()).isNotNull();
        assertThat(registry.find("gpu.gateway.websocket.delivery.lag").timer()).isNotNull();
        assertThat(registry.find("gpu.gateway.websocket.updates.dropped").counter())
                .isNotNull();
        assertThat(registry.find("gpu.gateway.workers.active").gauge()).isNotNull();
        assertThat(registry.find("gpu.gateway.broker.connected").gauge())
                .as("0 until the first connection")
                .isNotNull()
                .extracting(g -> g.value())
                .isEqualTo(0.0);
        assertThat(registry.getMeters().stream()
                        .filter(m -> m instanceof Counter)
                        .mapToDouble(m -> ((Counter) m).count())
                        .sum())
                .isZero();
    }

    @Test
    void aFailureIsCountedUnderItsErrorCodeAndPoolAndOtherOutcomesUnderNone() {
        metrics.registerPools(List.of("gpu-a"));

        metrics.jobFinished(JobStatus.FAILED, "gpu-a", "FORGE_OUT_OF_MEMORY");
        metrics.jobFinished(JobStatus.FAILED, "gpu-a", "SOMETHING_NEWER");
        metrics.jobFinished(JobStatus.FAILED, "gpu-a", null);
        metrics.jobFinished(JobStatus.SUCCEEDED, "gpu-a", "FORGE_TIMEOUT");
        metrics.jobFinished(JobStatus.RUNNING, "gpu-a", null);

        assertThat(finished("failed", "FORGE_OUT_OF_MEMORY", "gpu-a").count()).isEqualTo(1.0);
        assertThat(finished("failed", "UNKNOWN", "gpu-a").count())
                .as("unknown and missing codes")
                .isEqualTo(2.0);
        assertThat(finished("succeeded", "none", "gpu-a").count()).isEqualTo(1.0);
        assertThat(registry.find("gpu.gateway.jobs.finished").counters().stream()
                        .mapToDouble(Counter::count)
                        .sum())
                .as("a non-terminal status is not an outcome")
                .isEqualTo(4.0);
    }

    @Test
    void poolsBeyondTheCapShareTheOtherSeriesAndConfiguredPoolsDoNotCount() {
        metrics.registerPools(List.of("configured-1", "configured-2", "configured-3"));

        metrics.jobSubmitted("new-1");
        metrics.jobSubmitted("new-2");
        metrics.jobSubmitted("new-3");
        metrics.jobSubmitted("new-4");
        metrics.jobSubmitted("configured-3");

        assertThat(submitted("new-1")).isEqualTo(1.0);
        assertThat(submitted("new-2")).isEqualTo(1.0);
        assertThat(submitted(GatewayMetrics.OTHER_POOL)).isEqualTo(2.0);
        assertThat(submitted("configured-3")).isEqualTo(1.0);
        assertThat(registry.find("gpu.gateway.jobs.submitted")
                        .tag("pool", "new-3")
                        .counter())
                .isNull();
        assertThat(tagValues("gpu.gateway.jobs.submitted", "pool")).hasSize(6);
    }

    @Test
    void theStateGaugesFollowTheLatestCountsPerPoolAndFallToZeroForAPoolThatEmptied() {
        metrics.registerPools(List.of("gpu-a", "gpu-b"));

        Map<String, Long> queued = new LinkedHashMap<>();
        queued.put("gpu-a", 3L);
        queued.put("gpu-b", 1L);
        queued.put("x-1", 5L);
        queued.put("x-2", 7L);
        queued.put("x-3", 11L);
        metrics.jobsInState(JobStatus.QUEUED, queued);
        metrics.jobsInState(JobStatus.RUNNING, Map.of("gpu-a", 2L));
        double queuedA = gauge("queued", "gpu-a");
        double otherQueued = gauge("queued", GatewayMetrics.OTHER_POOL);
        metrics.jobsInState(JobStatus.QUEUED, Map.of("gpu-b", 4L));

        assertThat(queuedA).isEqualTo(3.0);
        assertThat(otherQueued)
                .as("x-3 is beyond the cap of 2 unconfigured pools")
                .isEqualTo(11.0);
        assertThat(gauge("queued", "gpu-a")).isZero();
        assertThat(gauge("queued", "gpu-b")).isEqualTo(4.0);
        assertThat(gauge("queued", "x-1")).isZero();
        assertThat(gauge("running", "gpu-a")).isEqualTo(2.0);
        assertThat(gauge("running", "gpu-b")).isZero();
    }

    @Test
    void requeuesQueueWaitsAndRunTimesAreRecordedPerPool() {
        metrics.registerPools(List.of("gpu-a"));

        metrics.jobRequeued("gpu-a");
        metrics.queueWait("gpu-a", Duration.ofSeconds(3));
        metrics.queueWait("gpu-a", Duration.ofSeconds(-1));
        metrics.runTime("gpu-a", Duration.ofSeconds(40));

        assertThat(registry.find("gpu.gateway.jobs.requeued")
                        .tag("pool", "gpu-a")
                        .counter()
                        .count())
                .isEqualTo(1.0);
        Timer wait = registry.find("gpu.gateway.jobs.queue.wait")
                .tag("pool", "gpu-a")
                .timer();
        assertThat(wait.count())
                .as("a negative wait (clock skew) is not recorded")
                .isEqualTo(1);
        assertThat(wait.totalTime(java.util.concurrent.TimeUnit.SECONDS)).isEqualTo(3.0);
        assertThat(registry.find("gpu.gateway.jobs.run.time")
                        .tag("pool", "gpu-a")
                        .timer()
                        .count())
                .isEqualTo(1);
    }

    @Test
    void deliveryLagIsTheTimeSinceTheChangeAndIgnoresUpdatesWithoutATimestamp() {
        Timer lag = registry.find("gpu.gateway.websocket.delivery.lag").timer();

        metrics.updateDelivered(Instant.now().minusMillis(250));
        metrics.updateDelivered(Instant.now().plusSeconds(5));
        metrics.updateDelivered(null);

        assertThat(lag.count()).isEqualTo(2);
        assertThat(lag.max(java.util.concurrent.TimeUnit.MILLISECONDS)).isBetween(250.0, 5_000.0);
        assertThat(lag.totalTime(java.util.concurrent.TimeUnit.MILLISECONDS))
                .as("a change stamped in the future (another gateway's clock) counts as no lag")
                .isEqualTo(lag.max(java.util.concurrent.TimeUnit.MILLISECONDS));
    }

    @Test
    void activeWorkersAreExported() {
        metrics.activeWorkers(3);

        assertThat(registry.find("gpu.gateway.workers.active").gauge().value()).isEqualTo(3.0);
    }

    private Counter finished(String outcome, String code, String pool) {
        return registry.find("gpu.gateway.jobs.finished")
                .tag("outcome", outcome)
                .tag("code", code)
                .tag("pool", pool)
                .counter();
    }

    private double submitted(String pool) {
        return registry.find("gpu.gateway.jobs.submitted")
                .tag("pool", pool)
                .counter()
                .count();
    }

    private double gauge(String state, String pool) {
        return registry.find("gpu.gateway.jobs.by-state")
                .tag("state", state)
                .tag("pool", pool)
                .gauge()
                .value();
    }

    private Set<String> tagValues(String name, String tag) {
        return registry.find(name).meters().stream()
                .map(Meter::getId)
                .map(id -> id.getTag(tag))
                .collect(Collectors.toSet());
    }
}
