package io.forgequeue.worker.system;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
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
    void recordsTurnaroundTimesByStageAndRefusesAnUnknownStage() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        WorkerMetrics metrics = new WorkerMetrics(registry);

        metrics.turnaround(WorkerMetrics.CONFIRM, 2 * MS);
        metrics.turnaround(WorkerMetrics.CONFIRM, 4 * MS);
        metrics.turnaround(WorkerMetrics.PREPARE, -5); // a clock step backwards counts as 0

        var confirm = registry.get("gpu.worker.turnaround").tag("stage", "confirm").timer();
        assertThat(confirm.count()).isEqualTo(2);
        assertThat(confirm.mean(java.util.concurrent.TimeUnit.MILLISECONDS)).isCloseTo(3.0, within(1e-9));
        assertThat(registry.get("gpu.worker.turnaround").tag("stage", "prepare").timer().totalTime(
                java.util.concurrent.TimeUnit.NANOSECONDS)).isZero();
        assertThat(registry.get("gpu.worker.turnaround").tag("stage", "result").timer().count()).isZero();
        assertThatThrownBy(() -> metrics.turnaround("lunch", MS)).isInstanceOf(IllegalArgumentException.class);
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
        assertThat(registry.get("gpu.worker.turnaround").timers()).extracting(t -> t.getId().getTag("stage"))
                .containsExactlyInAnyOrder(WorkerMetrics.PREPARE, WorkerMetrics.RESULT, WorkerMetrics.CONFIRM);
        assertThat(registry.get("gpu.worker.forge.breaker.transitions").tag("state", "half_open").counter().count())
                .isZero();
    }
}
