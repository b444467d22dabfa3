package io.forgequeue.forgesim;

import static io.forgequeue.forgesim.SimTestSupport.startSim;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The duty-cycle statistics of the admin API, measured around real HTTP calls. */
class DutyCycleStatsTest {

    @Test
    void measuresBusyIntervalsAndTheIdleGapsBetweenJobs() {
        try (ForgeSimServer sim = startSim("--step-ms", "10", "--model-load-ms", "0")) {
            SimClient forge = new SimClient(sim.baseUrl());
            ForgeSimAdmin admin = new ForgeSimAdmin(sim.adminUrl());
            forge.txt2img("{\"steps\":1,\"width\":16,\"height\":16}"); // warm-up, then measure from a clean slate
            admin.resetStats();

            for (int i = 0; i < 3; i++) {
                forge.txt2img("{\"steps\":5,\"width\":16,\"height\":16}");
                SimTestSupport.sleep(100);
            }
            ForgeSimAdmin.Stats stats = admin.stats(true);

            ForgeSimAdmin.DutyCycle duty = stats.duty();
            assertThat(stats.calls().started()).isEqualTo(3);
            assertThat(stats.calls().completed()).isEqualTo(3);
            assertThat(duty.jobs()).isEqualTo(3);
            assertThat(duty.running()).isFalse();
            assertThat(duty.busyMicros()).isBetween(3 * 50_000L, 3 * 50_000L + 150_000L);
            assertThat(duty.gapCount()).isEqualTo(2);
            assertThat(duty.gapsMicros())
                    .hasSize(2)
                    .allSatisfy(g -> assertThat(g).isGreaterThanOrEqualTo(100_000L));
            assertThat(duty.gapP50Micros()).isGreaterThanOrEqualTo(100_000L);
            assertThat(duty.gapMaxMicros()).isGreaterThanOrEqualTo(duty.gapP99Micros());
            assertThat(duty.spanMicros()).isGreaterThanOrEqualTo(duty.busyMicros() + 200_000L);
            assertThat(duty.wallMicros()).isGreaterThanOrEqualTo(duty.spanMicros() + 100_000L);
            assertThat(duty.dutyCycle()).isBetween(0.2, 0.6);
            assertThat(admin.stats().duty().gapsMicros())
                    .as("listed only on request")
                    .isEmpty();
        }
    }

    @Test
    void showsShortGapsForBackToBackCallsAndForgetsEverythingOnReset() {
        try (ForgeSimServer sim = startSim("--step-ms", "0", "--model-load-ms", "0")) {
            SimClient forge = new SimClient(sim.baseUrl());
            ForgeSimAdmin admin = new ForgeSimAdmin(sim.adminUrl());

            for (int i = 0; i < 50; i++) {
                forge.txt2img("{\"steps\":20,\"width\":64,\"height\":64}");
            }
            ForgeSimAdmin.Stats before = admin.stats();
            ForgeSimAdmin.Stats after = admin.resetStats();

            assertThat(before.duty().gapCount()).isEqualTo(49);
            assertThat(before.duty().gapP50Micros())
                    .as("a sequential client's round trip")
                    .isLessThan(50_000L);
            assertThat(after.duty().jobs()).isZero();
            assertThat(after.duty().gapCount()).isZero();
            assertThat(after.calls().completed()).isZero();
        }
    }
}
