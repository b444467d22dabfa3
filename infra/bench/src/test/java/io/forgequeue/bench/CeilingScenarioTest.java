package io.forgequeue.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.regex.Matcher;
import org.junit.jupiter.api.Test;

class CeilingScenarioTest {

    /** The end of a real PerfTest 2.22.1 run (one publisher with confirms, one consumer). */
    private static final String OUTPUT = """
            id: test-112941-509, time 10.000 s, sent: 12063 msg/s, confirmed: 12063 msg/s, nacked: 0 msg/s, received: 338 msg/s, min/median/75th/95th/99th consumer latency: 8626894/8990381/9341190/9518597/9551393 µs, confirm latency: 672/3452/5022/10920/18140 µs
            test stopped (Reached time limit)
            id: test-112941-509, sending rate avg: 21440 msg/s
            id: test-112941-509, receiving rate avg: 459 msg/s
            id: test-112941-509, consumer latency min/median/75th/95th/99th 30202/5229397/7050970/8884133/9433368 µs
            id: test-112941-509, confirm latency min/median/75th/95th/99th 356/1891/2508/5856/14274 µs
            """;

    @Test
    void readsTheAverageRatesFromPerfTestsSummary() {
        assertThat(CeilingScenario.match(CeilingScenario.RECEIVING, OUTPUT)).isEqualTo(459);
        assertThat(CeilingScenario.match(CeilingScenario.SENDING, OUTPUT)).isEqualTo(21440);
    }

    @Test
    void readsTheConfirmLatencyPercentilesOfTheSummaryNotOfAnIntervalLine() {
        Matcher m = CeilingScenario.CONFIRM.matcher(OUTPUT);

        assertThat(m.find()).isTrue();
        assertThat(m.group(2)).isEqualTo("1891");
        assertThat(m.group(5)).isEqualTo("14274");
    }

    /** A real drain: the queue ran empty after about 5.3 s of 15, so PerfTest's own average (932) is a third. */
    private static final String DRAINED = """
            id: test-140752-077, time 1.001 s, received: 2095 msg/s, min/median/75th/95th/99th consumer latency: 0/0/0/0/0 µs
            id: test-140752-077, time 2.000 s, received: 2476 msg/s, min/median/75th/95th/99th consumer latency: 0/0/0/0/0 µs
            id: test-140752-077, time 3.000 s, received: 2471 msg/s, min/median/75th/95th/99th consumer latency: 0/0/0/0/0 µs
            id: test-140752-077, time 4.000 s, received: 2959 msg/s, min/median/75th/95th/99th consumer latency: 0/0/0/0/0 µs
            id: test-140752-077, time 5.000 s, received: 3118 msg/s, min/median/75th/95th/99th consumer latency: 0/0/0/0/0 µs
            id: test-140752-077, time 6.000 s, received: 890 msg/s, min/median/75th/95th/99th consumer latency: 0/0/0/0/0 µs
            id: test-140752-077, time 7.000 s, received: 0 msg/s, min/median/75th/95th/99th consumer latency: 0/0/0/0/0 µs
            test stopped (Reached time limit)
            id: test-140752-077, sending rate avg: 0 msg/s
            id: test-140752-077, receiving rate avg: 932 msg/s
            """;

    @Test
    void theDrainRateCountsOnlyTheSecondsWhileTheQueueHadMessages() {
        assertThat(CeilingScenario.drainRate(DRAINED)).isEqualTo(Math.round((2095 + 2476 + 2471 + 2959 + 3118) / 5.0));
    }

    @Test
    void aQueueThatNeverRanEmptyKeepsEverySample() {
        String steady = DRAINED.replace("received: 890 msg/s", "received: 2900 msg/s")
                .replace("received: 0 msg/s", "received: 3000 msg/s");

        assertThat(CeilingScenario.drainRate(steady))
                .isEqualTo(Math.round((2095 + 2476 + 2471 + 2959 + 3118 + 2900 + 3000) / 7.0));
    }

    @Test
    void failsWithTheOutputWhenPerfTestPrintedNoSummary() {
        assertThatThrownBy(() -> CeilingScenario.match(CeilingScenario.RECEIVING, "Connection refused"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("Connection refused");
    }
}
