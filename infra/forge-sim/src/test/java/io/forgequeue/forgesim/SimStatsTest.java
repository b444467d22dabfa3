package io.forgequeue.forgesim;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

class SimStatsTest {

    private static final long MS = 1_000_000;

    @Test
    void measuresBusyTimeSpanAndTheIdleGapsBetweenJobs() {
        SimStats stats = new SimStats();
        stats.busyStart(1_000 * MS);
        stats.busyEnd(1_100 * MS);
        stats.busyStart(1_102 * MS);
        stats.busyEnd(1_200 * MS);
        stats.busyStart(1_210 * MS);
        stats.busyEnd(1_310 * MS);

        JsonNode duty = stats.snapshot(true, 1_410 * MS).get("duty");

        assertThat(duty.get("jobs").asLong()).isEqualTo(3);
        assertThat(duty.get("busyMicros").asLong()).isEqualTo(298_000);
        assertThat(duty.get("spanMicros").asLong()).isEqualTo(310_000);
        assertThat(duty.get("wallMicros").asLong()).isEqualTo(410_000);
        assertThat(duty.get("dutyCycle").doubleValue()).isEqualTo(298.0 / 310);
        assertThat(duty.get("gapCount").asLong()).isEqualTo(2);
        assertThat(duty.get("gapP50Micros").asLong()).isEqualTo(2_000);
        assertThat(duty.get("gapMaxMicros").asLong()).isEqualTo(10_000);
        assertThat(duty.get("gapsMicros").toString()).isEqualTo("[2000,10000]");
    }

    @Test
    void countsARunningJobAsBusyAndResetsToNothing() {
        SimStats stats = new SimStats();
        stats.received();
        stats.busyStart(0);

        JsonNode running = stats.snapshot(false, 50 * MS);
        stats.reset();
        stats.busyEnd(60 * MS);
        JsonNode afterReset = stats.snapshot(false, 70 * MS);

        assertThat(running.get("duty").get("running").booleanValue()).isTrue();
        assertThat(running.get("duty").get("busyMicros").asLong()).isEqualTo(50_000);
        assertThat(running.get("txt2img").get("started").asLong()).isEqualTo(1);
        assertThat(afterReset.get("duty").get("jobs").asLong())
                .as("a job that straddles a reset is not counted")
                .isZero();
        assertThat(afterReset.get("txt2img").get("received").asLong()).isZero();
    }

    @Test
    void takesNearestRankPercentiles() {
        long[] sorted = new long[100];
        for (int i = 0; i < 100; i++) {
            sorted[i] = i + 1;
        }
        assertThat(SimStats.percentile(sorted, 0.5)).isEqualTo(50);
        assertThat(SimStats.percentile(sorted, 0.99)).isEqualTo(99);
        assertThat(SimStats.percentile(new long[] {7}, 0.99)).isEqualTo(7);
        assertThat(SimStats.percentile(new long[0], 0.5)).isZero();
    }
}
