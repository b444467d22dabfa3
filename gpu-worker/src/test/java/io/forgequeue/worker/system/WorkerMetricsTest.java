package io.forgequeue.worker.system;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class WorkerMetricsTest {

    private static final long MS = 1_000_000;

    @Test
    void dutyCycleIsBusyTimeOverTimeSinceTheFirstJob() {
        WorkerMetrics.DutyCycle duty = new WorkerMetrics.DutyCycle();

        assertThat(duty.ratio(0)).isZero();
        assertThat(duty.start(1000 * MS)).as("no gap before the first job").isEqualTo(-1);
        duty.end(1900 * MS);
        assertThat(duty.start(2000 * MS)).as("gap").isEqualTo(100 * MS);
        duty.end(2900 * MS);

        assertThat(duty.ratio(3000 * MS)).isCloseTo(0.9, within(1e-9));
        assertThat(duty.busySeconds(3000 * MS)).isCloseTo(1.8, within(1e-9));
        assertThat(duty.idleSeconds(3000 * MS)).isCloseTo(0.2, within(1e-9));
    }

    @Test
    void countsARunningJobAsBusy() {
        WorkerMetrics.DutyCycle duty = new WorkerMetrics.DutyCycle();
        duty.start(0);

        assertThat(duty.ratio(500 * MS)).isEqualTo(1.0);
    }

    @Test
    void registersItsMetersUnderGpuWorkerWithLowCardinalityTags() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        WorkerMetrics metrics = new WorkerMetrics(registry);

        metrics.jobHandlingStarted();
        metrics.jobHandlingEnded();
        metrics.jobHandlingStarted();
        metrics.jobHandlingEnded();
        metrics.jobFinished("failed", io.forgequeue.model.ErrorCode.FORGE_TIMEOUT);
        metrics.breakerState(2, "open");
        metrics.consuming(false);

        assertThat(registry.get("gpu.worker.idle.gap").timer().count()).isEqualTo(1);
        assertThat(registry.get("gpu.worker.jobs").tags("outcome", "failed", "code", "FORGE_TIMEOUT").counter()
                .count()).isEqualTo(1);
        assertThat(registry.get("gpu.worker.forge.breaker.state").gauge().value()).isEqualTo(2);
        assertThat(registry.get("gpu.worker.consuming").gauge().value()).isZero();
        assertThat(registry.get("gpu.worker.duty.cycle").gauge().value()).isBetween(0.0, 1.0);
        assertThat(registry.getMeters()).allSatisfy(m -> assertThat(m.getId().getName()).startsWith("gpu.worker."));
    }

    @Test
    void registersEveryKnownCounterSeriesAtZeroBeforeTheFirstEvent() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        new WorkerMetrics(registry);

        for (io.forgequeue.model.ErrorCode code : io.forgequeue.model.ErrorCode.values()) {
            assertThat(registry.get("gpu.worker.jobs").tags("outcome", "failed", "code", code.name()).counter()
                    .count()).isZero();
        }
        assertThat(registry.get("gpu.worker.jobs").tags("outcome", "succeeded", "code", "none").counter().count())
                .isZero();
        assertThat(registry.get("gpu.worker.jobs").tags("outcome", "succeeded").counters()).hasSize(1);
        for (io.forgequeue.model.EventType type : io.forgequeue.model.EventType.values()) {
            assertThat(registry.get("gpu.worker.events").tag("type", type.name()).counters())
                    .hasSize(WorkerMetrics.EVENT_RESULTS.size());
        }
        assertThat(registry.get("gpu.worker.forge.retries").counters()).hasSize(2);
        assertThat(registry.get("gpu.worker.forge.breaker.transitions").tag("state", "half_open").counter().count())
                .isZero();
    }
}
