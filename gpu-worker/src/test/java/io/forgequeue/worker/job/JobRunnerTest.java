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
}
