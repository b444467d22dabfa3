package io.forgequeue.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class FairnessFiguresTest {

    private static final Map<String, Double> TWO_KEYS = weights("a", 1.0, "b", 1.0);

    private static Map<String, Double> weights(Object... keyWeight) {
        Map<String, Double> w = new LinkedHashMap<>();
        for (int i = 0; i < keyWeight.length; i += 2) {
            w.put((String) keyWeight[i], (Double) keyWeight[i + 1]);
        }
        return w;
    }

    private static FairnessFigures.Job job(String key, double submitted, double started) {
        return new FairnessFigures.Job(key, submitted, started, started + 1, null, null);
    }

    /** Two GPUs, one-second jobs; both keys submit {@code n} jobs at 0; GPU g runs key {@code order(g, i)}. */
    private static List<FairnessFigures.Job> twoGpus(int n, boolean alternate) {
        List<FairnessFigures.Job> jobs = new ArrayList<>();
        if (alternate) {
            for (int i = 0; i < n; i++) {
                jobs.add(job("a", 0, i));
                jobs.add(job("b", 0, i));
            }
        } else {
            for (int i = 0; i < n; i++) {
                jobs.add(job("a", 0, i / 2));
            }
            for (int i = 0; i < n; i++) {
                jobs.add(job("b", 0, n / 2 + i / 2));
            }
        }
        return jobs;
    }

    @Test
    void twoKeysThatShareTheGpusWhileBothWaitAreFair() {
        FairnessFigures.Result r = FairnessFigures.compute(twoGpus(20, true), TWO_KEYS, 5);

        assertThat(r.jain()).isCloseTo(1.0, within(1e-9));
        assertThat(r.keys().get("a").gpuShare()).isCloseTo(0.5, within(1e-9));
        assertThat(r.keys().get("a").rate()).isCloseTo(1.0, within(1e-9));
        assertThat(r.contendedSlices()).isEqualTo(3);
    }

    @Test
    void aKeyThatHoldsEveryGpuWhileTheOtherWaitsGivesTheLowestIndexOfTwoKeys() {
        FairnessFigures.Result r = FairnessFigures.compute(twoGpus(20, false), TWO_KEYS, 5);

        // 0-10 s: a runs on both GPUs while b waits; then b alone (not contended)
        assertThat(r.jain()).isCloseTo(0.5, within(1e-9));
        assertThat(r.keys().get("a").gpuShare()).isCloseTo(1.0, within(1e-9));
        assertThat(r.keys().get("b").rate()).isZero();
        assertThat(r.keys().get("b").waitP50()).isEqualTo(14.0);
        assertThat(r.keys().get("b").waitP95()).isEqualTo(19.0);
    }

    @Test
    void aKeyServedOnArrivalIsNotBackloggedButGetsItsGpuShare() {
        List<FairnessFigures.Job> jobs = twoGpus(20, true);
        // c submits every 5 s and starts 0.5 s later: never waiting through a whole slice
        for (double t = 0.2; t < 15; t += 5) {
            jobs.add(job("c", t, t + 0.5));
        }

        FairnessFigures.Result r = FairnessFigures.compute(jobs, weights("a", 1.0, "b", 1.0, "c", 1.0), 5);

        assertThat(r.keys().get("c").backlogSlices()).isZero();
        assertThat(r.keys().get("c").rate()).isNaN();
        assertThat(r.keys().get("c").gpuShare()).isGreaterThan(0.05);
        assertThat(r.jain()).isCloseTo(1.0, within(1e-9));
    }

    @Test
    void aKeysWeightScalesTheShareItIsOwed() {
        // b has weight 2 and gets two GPU-seconds for every one of a's: fair
        List<FairnessFigures.Job> jobs = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            jobs.add(job(i % 3 == 0 ? "a" : "b", 0, i / 2));
        }

        FairnessFigures.Result weighted = FairnessFigures.compute(jobs, weights("a", 1.0, "b", 2.0), 3);
        FairnessFigures.Result unweighted = FairnessFigures.compute(jobs, TWO_KEYS, 3);

        assertThat(weighted.jain()).isCloseTo(1.0, within(0.01));
        assertThat(unweighted.jain()).isCloseTo(0.9, within(0.01));
    }

    @Test
    void theEtaPredictsTheStartAsEtaMinusTheMeanJobTimeAndItsErrorIsAShareOfTheWait() {
        List<FairnessFigures.Job> jobs = List.of(
                new FairnessFigures.Job("a", 0, 5, 6, 5.0, 1.0), // predicted 4: error 1 s of a 5-s wait
                new FairnessFigures.Job("a", 0, 2, 3, 0.5, 1.0), // predicted 0 (never before submission): 2 of 2
                new FairnessFigures.Job("b", 0, 10, 11, null, 1.0)); // no ETA shown: left out

        FairnessFigures.Result r = FairnessFigures.compute(jobs, TWO_KEYS, 5);

        assertThat(FairnessFigures.predictedStart(jobs.get(0))).isEqualTo(4.0);
        assertThat(FairnessFigures.predictedStart(jobs.get(1))).isEqualTo(0.0);
        assertThat(r.etaJobs()).isEqualTo(2);
        assertThat(r.etaErrorP50()).isCloseTo(0.2, within(1e-9));
        assertThat(r.etaErrorP90()).isCloseTo(1.0, within(1e-9));
        assertThat(r.etaBiasP50Seconds()).isEqualTo(-2.0);
        // as "until done": 5 s promised, done after 6 (1/6); 0.5 s promised, done after 3 (2.5/3)
        assertThat(r.etaDoneErrorP50()).isCloseTo(1.0 / 6, within(1e-9));
        assertThat(r.etaDoneErrorP90()).isCloseTo(2.5 / 3, within(1e-9));
    }

    @Test
    void jainIsOneForEqualSharesAndOneOverNWhenOneKeyHasAll() {
        assertThat(FairnessFigures.jain(List.of(3.0, 3.0, 3.0))).isEqualTo(1.0);
        assertThat(FairnessFigures.jain(List.of(2.0, 0.0, 0.0))).isCloseTo(1.0 / 3, within(1e-9));
        assertThat(FairnessFigures.jain(List.of(1.0))).isNaN();
    }

    @Test
    void percentilesAreNearestRankAndBacklogsMergeOverlappingWaits() {
        assertThat(FairnessFigures.percentile(List.of(4.0, 1.0, 3.0, 2.0), 50)).isEqualTo(2.0);
        assertThat(FairnessFigures.percentile(List.of(4.0, 1.0, 3.0, 2.0), 95)).isEqualTo(4.0);
        assertThat(FairnessFigures.percentile(List.of(), 50)).isNaN();
        assertThat(FairnessFigures.merged(
                        List.of(new double[] {2, 3}, new double[] {0, 1.5}, new double[] {1, 2}, new double[] {4, 4})))
                .containsExactly(new double[] {0, 3});
    }
}
