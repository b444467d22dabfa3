package io.forgequeue.gateway.system;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The gateway's per-pool meters of the scheduler and the fleet: hand-outs, workers by state, oldest queued job. */
class GatewayMetricsFleetTest {

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final GatewayMetrics metrics = new GatewayMetrics(registry, new MetricsProperties(1, 20));

    @Test
    void workersByStateHandOutsAndTheOldestQueuedJobAreRegisteredAtZeroForEveryConfiguredPool() {
        metrics.registerPools(List.of("gpu-a", "gpu-b"));

        for (String pool : List.of("gpu-a", "gpu-b")) {
            for (String state : List.of("available", "paused", "refused")) {
                assertThat(workers(state, pool))
                        .as("%s workers of %s", state, pool)
                        .isZero();
            }
            assertThat(handouts(pool))
                    .as("hand-outs of %s", pool)
                    .isNotNull()
                    .extracting(Timer::count)
                    .isEqualTo(0L);
            assertThat(registry.find("gpu.gateway.jobs.queue.oldest")
                            .tag("pool", pool)
                            .gauge()
                            .value())
                    .isZero();
        }
    }

    @Test
    void workerGaugesFollowTheLatestCountsAndFallToZeroForAPoolWithoutLiveWorkers() {
        metrics.registerPools(List.of("gpu-a", "gpu-b"));

        Map<String, GatewayMetrics.WorkerCounts> counts = new LinkedHashMap<>();
        counts.put("gpu-a", new GatewayMetrics.WorkerCounts(2, 1, 0));
        counts.put("gpu-b", new GatewayMetrics.WorkerCounts(0, 0, 1));
        counts.put("new-1", new GatewayMetrics.WorkerCounts(1, 0, 0));
        counts.put("new-2", new GatewayMetrics.WorkerCounts(3, 0, 0));
        metrics.workersInState(counts);
        double availableA = workers("available", "gpu-a");
        double pausedA = workers("paused", "gpu-a");
        double otherAvailable = workers("available", GatewayMetrics.OTHER_POOL);
        metrics.workersInState(Map.of("gpu-b", new GatewayMetrics.WorkerCounts(1, 0, 0)));

        assertThat(availableA).isEqualTo(2.0);
        assertThat(pausedA).isEqualTo(1.0);
        assertThat(otherAvailable)
                .as("new-2 is beyond the cap of 1 unconfigured pool")
                .isEqualTo(3.0);
        assertThat(workers("available", "gpu-a")).isZero();
        assertThat(workers("refused", "gpu-b")).isZero();
        assertThat(workers("available", "gpu-b")).isEqualTo(1.0);
        assertThat(workers("available", "new-1")).isZero();
    }

    @Test
    void handOutsAreTimedPerPool() {
        metrics.registerPools(List.of("gpu-a"));

        metrics.handedOut("gpu-a", 2_000_000);
        metrics.handedOut("gpu-a", 4_000_000);

        assertThat(handouts("gpu-a").count()).isEqualTo(2);
        assertThat(handouts("gpu-a").totalTime(TimeUnit.MILLISECONDS)).isEqualTo(6.0);
    }

    private double workers(String state, String pool) {
        return registry.find("gpu.gateway.workers.by-state")
                .tag("state", state)
                .tag("pool", pool)
                .gauge()
                .value();
    }

    private Timer handouts(String pool) {
        return registry.find("gpu.gateway.scheduler.handouts").tag("pool", pool).timer();
    }
}
