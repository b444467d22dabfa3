package io.forgequeue.worker.system;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

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
        assertThat(registry.get("gpu.worker.jobs")
                        .tags("outcome", "failed", "code", "FORGE_TIMEOUT")
                        .counter()
                        .count())
                .isEqualTo(1);
        assertThat(registry.get("gpu.worker.forge.breaker.state").gauge().value())
                .isEqualTo(2);
        assertThat(registry.get("gpu.worker.consuming").gauge().value()).isZero();
        assertThat(registry.get("gpu.worker.duty.cycle").gauge().value()).isBetween(0.0, 1.0);
        assertThat(registry.getMeters())
                .allSatisfy(m -> assertThat(m.getId().getName()).startsWith("gpu.worker."));
    }

    @Test
    void recordsTurnaroundTimesByStageAndRefusesAnUnknownStage() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        WorkerMetrics metrics = new WorkerMetrics(registry);

        metrics.turnaround(WorkerMetrics.CONFIRM, 2 * MS);
        metrics.turnaround(WorkerMetrics.CONFIRM, 4 * MS);
        metrics.turnaround(WorkerMetrics.PREPARE, -5); // a clock step backwards counts as 0

        var confirm =
                registry.get("gpu.worker.turnaround").tag("stage", "confirm").timer();
        assertThat(confirm.count()).isEqualTo(2);
        assertThat(confirm.mean(java.util.concurrent.TimeUnit.MILLISECONDS)).isCloseTo(3.0, within(1e-9));
        assertThat(registry.get("gpu.worker.turnaround")
                        .tag("stage", "prepare")
                        .timer()
                        .totalTime(java.util.concurrent.TimeUnit.NANOSECONDS))
                .isZero();
        assertThat(registry.get("gpu.worker.turnaround")
                        .tag("stage", "result")
                        .timer()
                        .count())
                .isZero();
        assertThatThrownBy(() -> metrics.turnaround("lunch", MS)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void registersEveryKnownCounterSeriesAtZeroBeforeTheFirstEvent() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        new WorkerMetrics(registry);

        for (io.forgequeue.model.ErrorCode code : io.forgequeue.model.ErrorCode.values()) {
            assertThat(registry.get("gpu.worker.jobs")
                            .tags("outcome", "failed", "code", code.name())
                            .counter()
                            .count())
                    .isZero();
        }
        assertThat(registry.get("gpu.worker.jobs")
                        .tags("outcome", "succeeded", "code", "none")
                        .counter()
                        .count())
                .isZero();
        assertThat(registry.get("gpu.worker.jobs").tags("outcome", "succeeded").counters())
                .hasSize(1);
        for (io.forgequeue.model.EventType type : io.forgequeue.model.EventType.values()) {
            assertThat(registry.get("gpu.worker.events")
                            .tag("type", type.name())
                            .counters())
                    .hasSize(WorkerMetrics.EVENT_RESULTS.size());
        }
        assertThat(registry.get("gpu.worker.forge.retries").counters()).hasSize(2);
        assertThat(registry.get("gpu.worker.turnaround").timers())
                .extracting(t -> t.getId().getTag("stage"))
                .containsExactlyInAnyOrder(WorkerMetrics.PREPARE, WorkerMetrics.RESULT, WorkerMetrics.CONFIRM);
        assertThat(registry.get("gpu.worker.forge.breaker.transitions")
                        .tag("state", "half_open")
                        .counter()
                        .count())
                .isZero();
    }

    @Test
    void splitsGpuTimeIntoGeneratingLoadingAndIdleFromTheFirstCallOn() {
        WorkerMetrics.GpuTime gpu = new WorkerMetrics.GpuTime();
        long s = 1_000 * MS;

        gpu.consuming(true, 0);
        assertThat(gpu.seconds(WorkerMetrics.IDLE, 5 * s))
                .as("nothing before the first call")
                .isZero();
        gpu.callStarted(5 * s);
        assertThat(gpu.seconds(WorkerMetrics.GENERATING, 7 * s))
                .as("counted when the call ends")
                .isZero();
        gpu.callEnded(15 * s, 3 * s); // 10 s call, 3 s of it loading
        double idleBetween = gpu.seconds(WorkerMetrics.IDLE, 17 * s);
        gpu.consuming(false, 17 * s); // paused: counts nowhere
        gpu.consuming(true, 27 * s);
        gpu.callStarted(28 * s);
        gpu.callEnded(30 * s, 5 * s); // a load longer than the call is capped

        assertThat(idleBetween).isCloseTo(2.0, within(1e-9));
        assertThat(gpu.seconds(WorkerMetrics.GENERATING, 31 * s)).isCloseTo(7.0, within(1e-9));
        assertThat(gpu.seconds(WorkerMetrics.LOADING, 31 * s)).isCloseTo(5.0, within(1e-9));
        assertThat(gpu.seconds(WorkerMetrics.IDLE, 31 * s)).isCloseTo(2.0 + 1.0 + 1.0, within(1e-9));
    }

    @Test
    void registersTheModelMetricsAtZeroAndCountsMismatchesAndSwitches() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        WorkerMetrics metrics = new WorkerMetrics(registry);

        assertThat(registry.get("gpu.worker.model.mismatch")
                        .tag("outcome", "retried")
                        .counter()
                        .count())
                .isZero();
        assertThat(registry.get("gpu.worker.model.mismatch")
                        .tag("outcome", "failed")
                        .counter()
                        .count())
                .isZero();
        assertThat(registry.get("gpu.worker.checkpoint.switches")
                        .tag("checkpoint", "_other")
                        .counter()
                        .count())
                .isZero();
        assertThat(registry.get("gpu.worker.gpu.time").functionCounters())
                .extracting(c -> c.getId().getTag("activity"))
                .containsExactlyInAnyOrder(WorkerMetrics.GENERATING, WorkerMetrics.LOADING, WorkerMetrics.IDLE);

        metrics.checkpointSeen("sdxl_juggernaut");
        assertThat(registry.get("gpu.worker.checkpoint.switch.time")
                        .tag("checkpoint", "sdxl_juggernaut")
                        .timer()
                        .count())
                .isZero();
        metrics.checkpointSwitched("sdxl_juggernaut", 1500 * MS);
        metrics.checkpointSwitched("sdxl_juggernaut", -1);
        metrics.modelMismatch(WorkerMetrics.MISMATCH_RETRIED);

        assertThat(registry.get("gpu.worker.checkpoint.switches")
                        .tag("checkpoint", "sdxl_juggernaut")
                        .counter()
                        .count())
                .isEqualTo(2);
        assertThat(registry.get("gpu.worker.checkpoint.switch.time")
                        .tag("checkpoint", "sdxl_juggernaut")
                        .timer()
                        .count())
                .as("only measured loads are timed")
                .isEqualTo(1);
        assertThat(registry.get("gpu.worker.model.mismatch")
                        .tag("outcome", "retried")
                        .counter()
                        .count())
                .isEqualTo(1);
        assertThatThrownBy(() -> metrics.modelMismatch("maybe")).isInstanceOf(IllegalArgumentException.class);
    }
}
