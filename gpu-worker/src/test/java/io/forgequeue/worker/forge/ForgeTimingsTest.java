package io.forgequeue.worker.forge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Map;
import org.junit.jupiter.api.Test;

class ForgeTimingsTest {

    /** 20 steps of one 512x512 image: 20 reference steps. */
    private static final double TWENTY = ForgeTimings.referenceSteps(20, 1, 512, 512);

    @Test
    void normalisesAJobsWorkToStepsOfOne512x512Image() {
        assertThat(TWENTY).isEqualTo(20.0);
        assertThat(ForgeTimings.referenceSteps(10, 2, 1024, 1024)).isEqualTo(80.0);
        assertThat(ForgeTimings.referenceSteps(30, 1, 256, 256)).isEqualTo(7.5);
    }

    @Test
    void learnsTheSpeedAsAMovingAverageOfCallsThatNeededNoSwitch() {
        ForgeTimings timings = new ForgeTimings();

        ForgeTimings.Split first = timings.record("a", "a", TWENTY, 2.0, true);
        Double afterOne = timings.secondsPerStep();
        timings.record("a", "a", TWENTY, 4.0, true);

        assertThat(first).isEqualTo(ForgeTimings.Split.NONE);
        assertThat(afterOne).isCloseTo(0.1, within(1e-12));
        assertThat(timings.secondsPerStep()).isCloseTo(0.1 + ForgeTimings.ALPHA * (0.2 - 0.1), within(1e-12));
        assertThat(timings.loadSeconds()).isEmpty();
    }

    @Test
    void attributesTheTimeBeyondTheExpectedGenerationToTheLoadOfASwitch() {
        ForgeTimings timings = new ForgeTimings();
        timings.record("a", "a", TWENTY, 2.0, true); // 0.1 s per step

        ForgeTimings.Split toB = timings.record("a", "b", TWENTY, 5.0, true);
        timings.record("b", "a", 2 * TWENTY, 4.5, true); // 4 s expected: 0.5 s load
        timings.record("a", "b", TWENTY, 6.0, true); // 4 s load

        assertThat(toB.switched()).isTrue();
        assertThat(toB.loadSeconds()).isCloseTo(3.0, within(1e-12));
        assertThat(timings.loadSeconds().get("b")).isCloseTo(3.0 + ForgeTimings.ALPHA * (4.0 - 3.0), within(1e-12));
        assertThat(timings.loadSeconds().get("a")).isCloseTo(0.5, within(1e-12));
        assertThat(timings.secondsPerStep()).as("a switch is no speed sample").isCloseTo(0.1, within(1e-12));
    }

    @Test
    void neverMeasuresANegativeLoad() {
        ForgeTimings timings = new ForgeTimings();
        timings.record("a", "a", TWENTY, 2.0, true);

        ForgeTimings.Split fast = timings.record("a", "b", TWENTY, 1.0, true);

        assertThat(fast.loadSeconds()).isZero();
        assertThat(timings.loadSeconds()).containsEntry("b", 0.0);
    }

    @Test
    void countsASwitchBeforeTheSpeedIsKnownAndMeasuresItsLoadOnceTheSpeedIs() {
        ForgeTimings timings = new ForgeTimings();

        ForgeTimings.Split split = timings.record("a", "b", TWENTY, 5.0, true);
        Map<String, Double> before = timings.loadSeconds();
        timings.record("b", "b", TWENTY, 2.0, true); // 0.1 s per step: the switch to b loaded 3 s

        assertThat(split).isEqualTo(new ForgeTimings.Split(true, 0));
        assertThat(before).isEmpty();
        assertThat(timings.loadSeconds().get("b")).isCloseTo(3.0, within(1e-12));
    }

    @Test
    void measuresTheFirstLoadOfAFreshForgeOnceTheSpeedIsKnown() {
        ForgeTimings timings = new ForgeTimings();

        // the worker's first call: nothing was known to be loaded (Forge loads lazily, nothing at its start)
        ForgeTimings.Split first = timings.record(null, "a", TWENTY, 4.5, true);
        timings.record("a", "a", TWENTY, 2.0, true);
        ForgeTimings.Split c = timings.record(null, "c", TWENTY, 6.0, true); // after a failed call: c loaded in 4 s

        assertThat(first).isEqualTo(ForgeTimings.Split.NONE);
        assertThat(c).as("no switch, but a load all the same").isEqualTo(new ForgeTimings.Split(false, 4.0));
        assertThat(timings.loadSeconds().get("a")).isCloseTo(2.5, within(1e-12));
        assertThat(timings.loadSeconds().get("c")).isCloseTo(4.0, within(1e-12));
    }

    @Test
    void takesACallAfterAnUnknownStateThatTookAboutItsGenerationForNoLoad() {
        ForgeTimings timings = new ForgeTimings();

        // a worker restarted next to a Forge that kept "a" loaded: its first call loads nothing
        timings.record(null, "a", TWENTY, 2.2, true);
        timings.record("a", "a", TWENTY, 2.0, true);
        timings.record(null, "b", TWENTY, 2.1, true);

        assertThat(timings.loadSeconds()).isEmpty();
    }

    @Test
    void learnsNothingWhenWhatRanIsUnknown() {
        ForgeTimings timings = new ForgeTimings();

        ForgeTimings.Split unknownRan = timings.record("a", null, TWENTY, 2.0, true);
        ForgeTimings.Split unknownBoth = timings.record(null, null, TWENTY, 2.0, true);
        timings.record("a", "a", TWENTY, 2.0, true);

        assertThat(unknownRan).isEqualTo(ForgeTimings.Split.NONE);
        assertThat(unknownBoth).isEqualTo(ForgeTimings.Split.NONE);
        assertThat(timings.loadSeconds()).isEmpty();
    }

    @Test
    void aCallThatMayNotTeachStillSaysHowLongItLoadedButLeavesTheAveragesAlone() {
        ForgeTimings timings = new ForgeTimings();
        timings.record("a", "a", TWENTY, 2.0, true);

        ForgeTimings.Split split = timings.record("a", "b", TWENTY, 5.0, false);
        timings.record("b", "b", TWENTY, 9.0, false);

        assertThat(split).isEqualTo(new ForgeTimings.Split(true, 3.0));
        assertThat(timings.loadSeconds()).isEmpty();
        assertThat(timings.secondsPerStep()).isCloseTo(0.1, within(1e-12));
    }
}
