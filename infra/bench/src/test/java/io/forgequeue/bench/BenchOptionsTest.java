package io.forgequeue.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class BenchOptionsTest {

    private static final Path ROOT = Path.of("/repo");

    @Test
    void runsEveryScenarioWithTheIssuesSizesByDefault() {
        BenchOptions o = BenchOptions.parse(new String[0], ROOT);

        assertThat(o.scenarios())
                .containsExactly("ceiling", "duty", "overhead", "throughput", "submit", "fanout", "fairness");
        assertThat(o.fairnessFlood()).isEqualTo(100);
        assertThat(o.fairnessJobMillis()).isEqualTo(1000);
        assertThat(o.fairnessPolicies()).containsExactly("fifo", "fair");
        assertThat(o.dutyJobs()).isEqualTo(100);
        assertThat(o.dutyJobMillis()).isEqualTo(500);
        assertThat(o.throughputWorkers()).containsExactly(1, 2, 4);
        assertThat(o.submitRates()).containsExactly(200, 500);
        assertThat(o.fanoutClients()).containsExactly(1000, 5000);
        assertThat(o.rabbitPort()).isEqualTo(5704);
        assertThat(o.pgPort()).isEqualTo(55435);
        assertThat(o.runDir()).isEqualTo(ROOT.resolve(".run/bench"));
        assertThat(o.compareWith()).isNull();
    }

    @Test
    void quickShrinksEveryScenarioUnlessASizeIsGiven() {
        BenchOptions o = BenchOptions.parse(new String[] {"--quick", "--duty-jobs", "40"}, ROOT);

        assertThat(o.quick()).isTrue();
        assertThat(o.dutyJobs()).isEqualTo(40);
        assertThat(o.throughputWorkers()).containsExactly(2);
        assertThat(o.fanoutClients()).containsExactly(200);
        assertThat(o.fairnessFlood()).isEqualTo(30);
    }

    @Test
    void takesScenariosListsBaselineAndExtraEnvironment() {
        BenchOptions o = BenchOptions.parse(
                new String[] {
                    "--scenarios",
                    "duty,throughput",
                    "--compare-with",
                    "/tmp/base",
                    "--throughput-workers",
                    "2, 4",
                    "--worker-env",
                    "WORKER_CONFIRM_TIMEOUT=5s",
                    "--gateway-env",
                    "A=b=c"
                },
                ROOT);

        assertThat(o.scenarios()).containsExactly("duty", "throughput");
        assertThat(o.compareWith()).isEqualTo(Path.of("/tmp/base"));
        assertThat(o.throughputWorkers()).containsExactly(2, 4);
        assertThat(o.workerEnv()).containsEntry("WORKER_CONFIRM_TIMEOUT", "5s");
        assertThat(o.gatewayEnv()).containsEntry("A", "b=c");
    }

    @Test
    void aBaselineOnlySettingReachesTheBaselineBuildAloneOnTopOfTheCommonOnes() {
        BenchOptions o = BenchOptions.parse(
                new String[] {
                    "--compare-with",
                    "/tmp/base",
                    "--gateway-env",
                    "GATEWAY_EVENTS_CONSUMERS=4",
                    "--gateway-env",
                    "X=1",
                    "--baseline-gateway-env",
                    "GATEWAY_EVENTS_CONSUMERS=1",
                    "--baseline-worker-env",
                    "W=2"
                },
                ROOT);

        assertThat(BenchOptions.envFor(o.gatewayEnv(), "current"))
                .containsExactly(java.util.Map.entry("GATEWAY_EVENTS_CONSUMERS", "4"), java.util.Map.entry("X", "1"));
        assertThat(BenchOptions.envFor(o.gatewayEnv(), "baseline"))
                .containsEntry("GATEWAY_EVENTS_CONSUMERS", "1")
                .containsEntry("X", "1")
                .hasSize(2);
        assertThat(BenchOptions.envFor(o.workerEnv(), "current")).isEmpty();
        assertThat(BenchOptions.envFor(o.workerEnv(), "baseline")).containsExactly(java.util.Map.entry("W", "2"));
    }

    @Test
    void refusesUnknownScenariosAndOptions() {
        assertThatThrownBy(() -> BenchOptions.parse(new String[] {"--scenarios", "duty,speed"}, ROOT))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("unknown scenario 'speed'");
        assertThatThrownBy(() -> BenchOptions.parse(new String[] {"--dutyjobs", "3"}, ROOT))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("unknown option(s) [dutyjobs]");
        assertThatThrownBy(() -> BenchOptions.parse(new String[] {"--duty-jobs", "many"}, ROOT))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("--duty-jobs needs an integer");
    }
}
