package io.forgequeue.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MixedFiguresTest {

    private static final long S = 1_000_000;

    @Test
    void usefulShareIsTimeGeneratingOverEveryGpusWallTimeIdleGpusIncluded() {
        List<MixedFigures.Gpu> gpus = List.of(
                new MixedFigures.Gpu(60 * S, 20 * S, 5, true),
                new MixedFigures.Gpu(30 * S, 0, 0, true),
                new MixedFigures.Gpu(0, 0, 0, false),
                new MixedFigures.Gpu(70 * S, 10 * S, 2, true));

        MixedFigures.Fleet f = MixedFigures.fleet(gpus, 50, 100);

        assertThat(f.usefulShare()).isCloseTo(160.0 / 400, within(1e-9));
        assertThat(f.loadingShare()).isCloseTo(30.0 / 400, within(1e-9));
        assertThat(f.switches()).isEqualTo(7);
        assertThat(f.switchesPer100()).isCloseTo(14, within(1e-9));
    }

    @Test
    void theFirstLoadOfAGpuThatHeldNoCheckpointIsNoSwitch() {
        MixedFigures.Gpu empty = new MixedFigures.Gpu(10 * S, 3 * S, 3, false);
        MixedFigures.Gpu warm = new MixedFigures.Gpu(10 * S, 3 * S, 3, true);
        MixedFigures.Gpu idle = new MixedFigures.Gpu(0, 0, 0, false);

        assertThat(empty.switches()).isEqualTo(2);
        assertThat(warm.switches()).isEqualTo(3);
        assertThat(idle.switches()).isZero();
    }

    @Test
    void oursMeetsTheGoalsOnlyWithOneAndAHalfTimesFifosUsefulShareAndMoreThanEachPeerRule() {
        Map<String, Double> useful = Map.of("fifo", 0.5, "swarmui", 0.7, "invokeai", 0.8, "fair", 0.76);

        List<Figure> figures = MixedFigures.comparison(useful, "fair", "fifo", 1.5, List.of("swarmui", "invokeai"));

        assertThat(figures)
                .extracting(Figure::name)
                .containsExactly(
                        "useful GPU share, fair / fifo",
                        "useful GPU share, fair / swarmui",
                        "useful GPU share, fair / invokeai");
        assertThat(figures.get(0).value()).isEqualTo(1.52);
        assertThat(figures.get(0).met()).isTrue();
        assertThat(figures.get(1).met()).isTrue();
        assertThat(figures.get(2).value()).isEqualTo(0.95);
        assertThat(figures.get(2).met()).as("behind invokeai").isFalse();
        assertThat(Report.meets(1.0, figures.get(1).goal()))
                .as("equal is not ahead")
                .isFalse();
    }

    @Test
    void aComparisonLeavesOutThePoliciesThatDidNotRun() {
        assertThat(MixedFigures.comparison(Map.of("fifo", 0.5), "fair", "fifo", 1.5, List.of("swarmui")))
                .isEmpty();
        assertThat(MixedFigures.comparison(
                        Map.of("fair", 0.9, "swarmui", 0.6), "fair", "fifo", 1.5, List.of("swarmui")))
                .extracting(Figure::name)
                .containsExactly("useful GPU share, fair / swarmui");
    }

    @Test
    void everyPolicyGetsTheSameJobsAtTheSameTimesWithinTheScenariosSizes() {
        List<MixedScenario.Planned> plan = MixedScenario.plan(60);

        assertThat(MixedScenario.plan(60)).isEqualTo(plan);
        assertThat(plan).allMatch(p -> p.steps() >= 10 && p.steps() <= 40 && p.atMillis() < 60_000);
        assertThat(plan)
                .filteredOn(p -> p.key().equals("portraits"))
                .hasSize(60)
                .allMatch(p -> p.checkpoint().equals("ckptA") || p.checkpoint().equals("ckptB"));
        assertThat(plan)
                .filteredOn(p -> p.key().equals("products"))
                .hasSize(43)
                .noneMatch(p -> p.checkpoint().equals("ckptA"));
        assertThat(plan)
                .filteredOn(p -> p.key().equals("sketches"))
                .hasSize(24)
                .extracting(MixedScenario.Planned::checkpoint)
                .contains("ckptA", "ckptB", "ckptC");
        assertThat(plan).isSortedAccordingTo(java.util.Comparator.comparingLong(MixedScenario.Planned::atMillis));
        double gpusAsked = plan.stream().mapToDouble(p -> p.steps() * 0.1).sum() / 60;
        assertThat(gpusAsked).as("the keys ask for more than the 4 GPUs").isGreaterThan(4.5);
    }

    @Test
    void eachForgeSimLoadsTheThreeCheckpointsInTwoToFourSeconds() {
        assertThat(MixedScenario.simArgs())
                .containsSubsequence(
                        "--models",
                        "ckptA.safetensors,ckptB.safetensors,ckptC.safetensors",
                        "--checkpoint-load-ms",
                        "ckptA=2000,ckptB=3000,ckptC=4000");
        assertThat(io.forgequeue.forgesim.SimConfig.fromArgs(
                                MixedScenario.simArgs().toArray(String[]::new))
                        .checkpointLoadMs())
                .containsEntry("ckptC", 4000L);
    }
}
