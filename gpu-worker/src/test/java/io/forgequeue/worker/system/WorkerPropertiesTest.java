package io.forgequeue.worker.system;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class WorkerPropertiesTest {

    private static WorkerProperties withId(String id, String pool) {
        return new WorkerProperties(
                id,
                pool,
                5,
                Duration.ofSeconds(30),
                Duration.ofSeconds(10),
                new WorkerProperties.Outcome(Duration.ofMinutes(2), Duration.ofMillis(250), Duration.ofSeconds(5)),
                new WorkerProperties.Progress(
                        Duration.ofMillis(500),
                        Duration.ofMillis(250),
                        Duration.ofSeconds(10),
                        true,
                        Duration.ofSeconds(2)),
                new WorkerProperties.Cancel(100, Duration.ofHours(1)),
                new WorkerProperties.Presence(Duration.ofSeconds(1), Duration.ofSeconds(30)));
    }

    @Test
    void generatesAUniqueHostnameBasedIdWhenNoneIsGiven() {
        WorkerProperties a = withId(null, null);
        WorkerProperties b = withId("  ", "default");

        assertThat(a.id()).matches("[a-z0-9-]+-[0-9a-f]{6}");
        assertThat(a.id()).isNotEqualTo(b.id());
        assertThat(a.pool()).isEqualTo("default");
    }

    /**
     * Issue 19: a SUCCEEDED event carries its images base64-encoded (4/3 of their bytes); with the default bound it
     * stays below RabbitMQ 4's default max_message_size (16 MiB) with at least 1 MiB to spare for the rest.
     */
    @Test
    void defaultImageBoundKeepsAnOutcomeEventBelowTheBrokersDefaultMessageSizeLimit() {
        long bound = withId("gpu-a", "default").outcome().maxImageBytes().toBytes();
        long base64 = (bound + 2) / 3 * 4;

        assertThat(bound).isEqualTo(10L * 1024 * 1024);
        assertThat(base64 + 1024 * 1024).isLessThan(16L * 1024 * 1024);
    }

    @Test
    void keepsAGivenIdAndChecksThePoolName() {
        assertThat(withId("gpu-a", "sdxl").id()).isEqualTo("gpu-a");
        assertThat(withId("gpu-a", "sdxl").isPoolValid()).isTrue();
        assertThat(withId("gpu-a", "Bad Pool!").isPoolValid()).isFalse();
    }
}
