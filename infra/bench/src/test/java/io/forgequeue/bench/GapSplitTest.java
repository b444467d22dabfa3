package io.forgequeue.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Map;
import org.junit.jupiter.api.Test;

class GapSplitTest {

    private static final String BEFORE = """
            # HELP gpu_worker_turnaround_seconds The worker's own time around a job's Forge call, by stage
            gpu_worker_turnaround_seconds_count{application="gpu-worker",stage="confirm"} 2
            gpu_worker_turnaround_seconds_sum{application="gpu-worker",stage="confirm"} 0.004
            gpu_worker_turnaround_seconds_bucket{application="gpu-worker",stage="confirm",le="0.001"} 1
            gpu_worker_turnaround_seconds_count{application="gpu-worker",stage="prepare"} 2
            gpu_worker_turnaround_seconds_sum{application="gpu-worker",stage="prepare"} 0.001
            gpu_worker_turnaround_seconds_count{application="gpu-worker",stage="result"} 2
            gpu_worker_turnaround_seconds_sum{application="gpu-worker",stage="result"} 0.001
            gpu_worker_idle_gap_seconds_count{application="gpu-worker"} 1
            gpu_worker_idle_gap_seconds_sum{application="gpu-worker"} 9.5
            gpu_worker_forge_calls_seconds_count{application="gpu-worker",call="txt2img",outcome="success"} 2
            gpu_worker_forge_calls_seconds_sum{application="gpu-worker",call="txt2img",outcome="success"} 1.0
            gpu_worker_forge_calls_seconds_count{application="gpu-worker",call="progress",outcome="success"} 40
            gpu_worker_forge_calls_seconds_sum{application="gpu-worker",call="progress",outcome="success"} 0.04
            gpu_worker_forge_calls_seconds_count{application="gpu-worker",call="txt2img",outcome="timeout"} 1
            gpu_worker_forge_calls_seconds_sum{application="gpu-worker",call="txt2img",outcome="timeout"} 30.0
            """;

    @Test
    void readsTheWorkersTimersOutOfAPrometheusPage() {
        Map<String, GapSplit.Timer> timers = GapSplit.parse(BEFORE);

        assertThat(timers).containsOnlyKeys("confirm", "prepare", "result", "handout", "txt2img");
        assertThat(timers.get("confirm")).isEqualTo(new GapSplit.Timer(0.004, 2));
        assertThat(timers.get("txt2img")).as("successful txt2img calls only").isEqualTo(new GapSplit.Timer(1.0, 2));
    }

    @Test
    void splitsTheMeanGapIntoPartsThatAddUpToIt() {
        Map<String, GapSplit.Timer> before = GapSplit.parse(BEFORE);
        // ten more jobs: result 0.5 ms, confirm 1.5 ms, hand-out 1 ms, prepare 0.5 ms, calls 501 ms each
        Map<String, GapSplit.Timer> after =
                GapSplit.parse(BEFORE.replace("stage=\"confirm\"} 2", "stage=\"confirm\"} 12")
                        .replace("stage=\"confirm\"} 0.004", "stage=\"confirm\"} 0.019")
                        .replace("stage=\"prepare\"} 2", "stage=\"prepare\"} 12")
                        .replace("stage=\"prepare\"} 0.001", "stage=\"prepare\"} 0.006")
                        .replace("stage=\"result\"} 2", "stage=\"result\"} 12")
                        .replace("stage=\"result\"} 0.001", "stage=\"result\"} 0.006")
                        .replace(
                                "idle_gap_seconds_count{application=\"gpu-worker\"} 1",
                                "idle_gap_seconds_count{application=\"gpu-worker\"} 11")
                        .replace("9.5", "9.51")
                        .replace("outcome=\"success\"} 2", "outcome=\"success\"} 12")
                        .replace("outcome=\"success\"} 1.0", "outcome=\"success\"} 6.01"));

        Map<String, Double> split = GapSplit.split(before, after, 10 * 500_000, 10, 6.0);

        assertThat(split).containsOnlyKeys(GapSplit.PARTS);
        assertThat(split.get("result")).isCloseTo(0.5, within(1e-9));
        assertThat(split.get("confirm")).isCloseTo(1.5, within(1e-9));
        assertThat(split.get("handout")).isCloseTo(1.0, within(1e-9));
        assertThat(split.get("prepare")).isCloseTo(0.5, within(1e-9));
        assertThat(split.get("http"))
                .as("501 ms per call, 500 ms busy in the sim")
                .isCloseTo(1.0, within(1e-9));
        assertThat(split.get("rest")).isCloseTo(1.5, within(1e-9));
        assertThat(split.values().stream().mapToDouble(Double::doubleValue).sum())
                .isCloseTo(6.0, within(1e-9));
    }
}
