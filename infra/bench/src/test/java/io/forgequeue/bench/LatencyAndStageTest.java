package io.forgequeue.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LatencyAndStageTest {

    @Test
    void reportsPercentilesInMillisecondsFromMicroseconds() {
        Latency latency = new Latency();
        for (int i = 1; i <= 100; i++) {
            latency.recordMicros(i * 1000L);
        }

        assertThat(latency.millis(50)).isCloseTo(50.0, org.assertj.core.data.Offset.offset(0.05));
        assertThat(latency.millis(99)).isCloseTo(99.0, org.assertj.core.data.Offset.offset(0.1));
        assertThat(latency.summary()).containsEntry("count", 100L);
    }

    @Test
    void anEmptyHistogramHasOnlyACount() {
        assertThat(new Latency().summary()).containsOnlyKeys("count");
    }

    @Test
    void theStageWhoseQueueFillsUpIsTheSaturatedOne() {
        Map<String, Double> cpu = Map.of("machine", 120.0);

        assertThat(ThroughputScenario.saturatedStage(
                        Map.of("jobs", List.of(150L, 170L), "persist", List.of(2L), "relay", List.of(0L)), 200, cpu))
                .startsWith("job hand-out");
        assertThat(ThroughputScenario.saturatedStage(
                        Map.of("jobs", List.of(3L), "persist", List.of(90L), "relay", List.of(0L)), 200, cpu))
                .startsWith("event merge");
        assertThat(ThroughputScenario.saturatedStage(
                        Map.of("jobs", List.of(1L), "persist", List.of(1L), "relay", List.of(1L)),
                        200,
                        Map.of("machine", 199.0)))
                .startsWith("submission")
                .contains("2 cores are saturated");
    }
}
