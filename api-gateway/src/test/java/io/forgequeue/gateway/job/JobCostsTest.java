package io.forgequeue.gateway.job;

import io.forgequeue.model.JobSpec;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class JobCostsTest {

    private static JobSpec spec(int width, int height, int steps, int batch) {
        return new JobSpec("a fox", null, width, height, steps, 7.0, null, null, 42, null, batch);
    }

    @Test
    void aJobsSizeIsCountedInStandardImagesOf512By512At20Steps() {
        assertThat(JobCosts.units(spec(512, 512, 20, 1))).isEqualTo(1.0);
        assertThat(JobCosts.units(spec(1024, 1024, 20, 1))).isEqualTo(4.0);
        assertThat(JobCosts.units(spec(512, 512, 40, 2))).isEqualTo(4.0);
        assertThat(JobCosts.units(spec(64, 64, 10, 1))).isCloseTo(1.0 / 128, within(1e-12));
    }
}
