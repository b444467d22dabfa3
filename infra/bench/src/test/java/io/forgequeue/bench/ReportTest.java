package io.forgequeue.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReportTest {

    private final BenchOptions options = BenchOptions.parse(new String[0], Path.of("/repo"));

    private Report report() {
        Map<String, Object> machine = new LinkedHashMap<>();
        machine.put("cpu", "AMD EPYC");
        machine.put("cores", 2);
        return new Report(machine, options, "2026-11-22T12:00:00Z");
    }

    @Test
    void putsBaselineAndCurrentOfAFigureInOneRowWithTheirRatio() {
        Report report = report();
        report.add(new ScenarioResult("duty", "baseline").figure(Figure.below("duty", "idle gap p99", 12.0, "ms", 5)));
        report.add(new ScenarioResult("duty", "current").figure(Figure.below("duty", "idle gap p99", 3.0, "ms", 5)));

        List<Report.Row> rows = report.rows();

        assertThat(rows).hasSize(1);
        assertThat(rows.get(0).baseline).isEqualTo(12.0);
        assertThat(rows.get(0).current).isEqualTo(3.0);
        assertThat(rows.get(0).ratio()).isEqualTo("0.25×");
        assertThat(rows.get(0).met).isTrue();
        assertThat(report.markdownTable()).contains("| duty | idle gap p99 | 12 ms | 3 ms | 0.25× | < 5 ms | yes |");
    }

    @Test
    void showsTheMedianOfTheRoundsAndJudgesTheGoalOnIt() {
        Report report = report();
        for (double gap : new double[] {9, 3, 4}) {
            report.add(
                    new ScenarioResult("duty", "current").figure(Figure.below("duty", "idle gap p99", gap, "ms", 5)));
        }

        Report.Row row = report.rows().get(0);

        assertThat(row.current).isEqualTo(4.0);
        assertThat(row.met).isTrue();
        assertThat(Report.median(List.of(1.0, 5.0, 2.0, 8.0))).isEqualTo(3.5);
        assertThat(Report.meets(650, "≥ 650")).isTrue();
        assertThat(Report.meets(20.5, "≤ 20")).isFalse();
    }

    @Test
    void comparesThroughputWithTheBrokersHandOutForAsManyConsumersAsWorkers() {
        Report report = report();
        Map<String, Object> handOut = new LinkedHashMap<>();
        handOut.put("2 consumer(s), from a backlog", 1000L);
        handOut.put("2 consumer(s), while publishing", 800L);
        report.add(new ScenarioResult("ceiling", "broker").detail("handOutMessagesPerSecond", handOut));
        report.add(
                new ScenarioResult("throughput", "current").detail("workers", 2).detail("jobsPerSecond", 400.0));

        assertThat(report.ceilingShares())
                .containsExactly("current, 2 worker(s): 400.0 jobs/s = 40 % of the broker's "
                        + "hand-out from a backlog (1000 msg/s), 50 % of its hand-out while publishing (800 msg/s)");
    }

    @Test
    void showsTheVariantsOfOneBuildSideBySideAndJudgesAGoalOnTheVariantThatCarriesIt() {
        Report report = report();
        report.add(new ScenarioResult("duty", "current").figure(Figure.below("duty", "idle gap p99", 3.0, "ms", 5)));
        report.add(new ScenarioResult("fairness", "current", "fifo")
                .figure(Figure.of("fairness", "Jain's index", 0.6, ""))
                .figure(Figure.of("fairness", "wait p50, steady key", 30.0, "s")));
        report.add(new ScenarioResult("fairness", "current", "fair")
                .figure(Figure.atLeast("fairness", "Jain's index", 0.97, "", 0.95))
                .figure(Figure.of("fairness", "wait p50, steady key", 1.5, "s")));

        List<Report.VariantRow> rows = report.variantRows();

        assertThat(report.rows()).extracting(r -> r.name).containsExactly("idle gap p99");
        assertThat(report.variants()).containsExactly("fifo", "fair");
        assertThat(rows).hasSize(2);
        assertThat(rows.get(0).medians).containsEntry("fifo", 0.6).containsEntry("fair", 0.97);
        assertThat(rows.get(0).met).isTrue();
        assertThat(rows.get(1).met).isNull();
        assertThat(report.variantMarkdownTable())
                .contains("| Scenario | Figure | fifo | fair | Goal | Met |")
                .contains("| fairness | Jain's index | 0.600 | 0.970 | ≥ 0.950 (fair) | yes |")
                .contains("| fairness | wait p50, steady key | 30 s | 1.50 s |  |  |");
        assertThat(report.variantConsoleTable()).contains("fifo").contains("fair");
    }

    @Test
    void writesJsonWithoutNaNAndAMarkdownSummary(@TempDir Path dir) throws Exception {
        Report report = report();
        report.add(new ScenarioResult("overhead", "current")
                .figure(Figure.atMost("overhead", "pipeline overhead p50", Double.NaN, "ms", 8))
                .detail("overhead", new Latency().summary()));

        report.write(dir, "infra/bench/run.sh --quick", "2026-11-22T12:10:00Z", 0.5);

        String json = Files.readString(dir.resolve("results.json"));
        assertThat(json).doesNotContain("NaN");
        assertThat(Json.MAPPER
                        .readTree(json)
                        .path("table")
                        .path(0)
                        .path("current")
                        .isNull())
                .isTrue();
        assertThat(Files.readString(dir.resolve("summary.md")))
                .contains("`infra/bench/run.sh --quick`")
                .contains("| overhead | pipeline overhead p50 | – |");
    }
}
