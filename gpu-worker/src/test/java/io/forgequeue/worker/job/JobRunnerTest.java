package io.forgequeue.worker.job;

import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

class JobRunnerTest {

    @Test
    void statesTheTimeoutInTheFriendlyMessageAsConfigured() {
        assertThat(JobRunner.describe(Duration.ofSeconds(180))).isEqualTo("180 s");
        assertThat(JobRunner.describe(Duration.ofMillis(1500))).isEqualTo("1.5 s");
        assertThat(JobRunner.describe(Duration.ofMinutes(5))).isEqualTo("300 s");
    }

    @Test
    void statesImageSizesInUnitsAPersonReads() {
        assertThat(JobRunner.size(12_900_000)).isEqualTo("12.3 MB");
        assertThat(JobRunner.size(10L * 1024 * 1024)).isEqualTo("10.0 MB");
        assertThat(JobRunner.size(20 * 1024)).isEqualTo("20 KB");
        assertThat(JobRunner.size(100)).isEqualTo("1 KB");
    }
}
