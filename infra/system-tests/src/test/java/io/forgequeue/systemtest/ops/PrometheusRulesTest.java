package io.forgequeue.systemtest.ops;

import static io.forgequeue.systemtest.ops.OpsFiles.at;
import static io.forgequeue.systemtest.ops.OpsFiles.list;
import static io.forgequeue.systemtest.ops.OpsFiles.map;
import static io.forgequeue.systemtest.ops.OpsFiles.string;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Prometheus files of infra/prometheus/: promtool accepts the local configuration and the alert rules, the
 * rules' own unit tests (alerts-test.yml) pass, and the rules and scrape configurations have what operators need.
 * Needs promtool (Debian's prometheus package; installed by infra/local/prometheus.sh install when missing).
 */
class PrometheusRulesTest {

    private static final Path DIR = OpsFiles.path("infra/prometheus");

    @Test
    void promtoolAcceptsTheLocalPrometheusConfiguration() {
        OpsFiles.Result result = OpsFiles.promtool(DIR, "check", "config", "prometheus.yml");

        assertThat(result.exitCode())
                .as("promtool check config prometheus.yml:\n%s", result.output())
                .isZero();
        assertThat(result.output()).contains("1 rule files found");
    }

    @Test
    void promtoolAcceptsTheAlertRules() {
        OpsFiles.Result result = OpsFiles.promtool(DIR, "check", "rules", "alerts.yml");

        assertThat(result.exitCode())
                .as("promtool check rules alerts.yml:\n%s", result.output())
                .isZero();
    }

    @Test
    void alertUnitTestsPassOnSyntheticSeries() {
        OpsFiles.Result result = OpsFiles.promtool(DIR, "test", "rules", "alerts-test.yml");

        assertThat(result.exitCode())
                .as("promtool test rules alerts-test.yml:\n%s", result.output())
                .isZero();
        assertThat(result.output()).contains("SUCCESS");
    }

    @Test
    void promtoolReportsAnAlertThatDoesNotFireAsExpected(@TempDir Path tmp) throws IOException {
        // A rule that never fires, with a test that expects it to: the harness must see the failure.
        Files.writeString(tmp.resolve("rules.yml"), """
                groups:
                  - name: g
                    rules:
                      - alert: NeverFires
                        expr: vector(1) == 2
                        labels: {severity: warning}
                """);
        Files.writeString(tmp.resolve("test.yml"), """
                rule_files: [rules.yml]
                evaluation_interval: 1m
                tests:
                  - interval: 1m
                    input_series: []
                    alert_rule_test:
                      - eval_time: 1m
                        alertname: NeverFires
                        exp_alerts:
                          - exp_labels: {severity: warning}
                """);

        OpsFiles.Result result = OpsFiles.promtool(tmp, "test", "rules", "test.yml");

        assertThat(result.exitCode()).as(result.output()).isNotZero();
        assertThat(result.output()).contains("FAILED");
    }

    @Test
    void everyAlertHasASeverityAndASummaryAndDescriptionAPersonUnderstands() {
        List<Map<String, Object>> alerts = alerts();

        assertThat(alerts).hasSizeGreaterThanOrEqualTo(8);
        for (Map<String, Object> alert : alerts) {
            String name = string(alert, "alert");
            assertThat(string(alert, "labels.severity"))
                    .as("severity of %s", name)
                    .isIn("critical", "warning");
            assertThat(string(alert, "annotations.summary"))
                    .as("summary of %s", name)
                    .isNotBlank()
                    .hasSizeLessThan(120);
            assertThat(string(alert, "annotations.description"))
                    .as("description of %s", name)
                    .hasSizeGreaterThan(80);
        }
    }

    @Test
    void theRulesCoverBacklogBreakerStuckJobsOutboxFailuresDeadLettersDownAppsAndTheScheduler() {
        Map<String, String> exprByAlert = new HashMap<>();
        for (Map<String, Object> alert : alerts()) {
            exprByAlert.put(string(alert, "alert"), string(alert, "expr"));
        }

        assertThat(exprByAlert)
                .containsKeys(
                        "ForgeQueueJobsWaitingWithoutWorker",
                        "ForgeWorkerBreakerOpen",
                        "ForgeQueueStuckJobsSwept",
                        "ForgeQueueOutboxLag",
                        "ForgeQueueHighFailureRatio",
                        "ForgeQueueDeadLetters",
                        "ForgeQueueGatewayDown",
                        "ForgeWorkerDown",
                        "ForgeWorkersMissing",
                        "ForgeQueueRabbitMQDown",
                        "ForgeQueueRabbitMQNodesMissing",
                        "ForgeQueueBacklogGrowing",
                        "ForgeQueueNoSchedulerLeader",
                        "ForgeQueueSeveralSchedulerLeaders",
                        "ForgeQueueSchedulerStuck",
                        "ForgeQueueWorkersRefused",
                        "ForgeQueueRevocationSpike");
        // the backlog is in PostgreSQL since issue 16: the gateways report it, not the broker
        assertThat(exprByAlert.get("ForgeQueueJobsWaitingWithoutWorker"))
                .contains(
                        "gpu_gateway_jobs_by_state{state=\"queued\"}",
                        "gpu_gateway_workers_by_state{state=\"available\"}")
                .doesNotContain("rabbitmq_");
        assertThat(exprByAlert.get("ForgeQueueBacklogGrowing"))
                .contains("gpu_gateway_jobs_by_state{state=\"queued\"}")
                .doesNotContain("rabbitmq_");
        assertThat(exprByAlert.get("ForgeQueueNoSchedulerLeader"))
                .contains("sum(gpu_gateway_scheduler_leader) == 0", "absent(gpu_gateway_scheduler_leader)");
        assertThat(exprByAlert.get("ForgeQueueSeveralSchedulerLeaders"))
                .contains("sum(gpu_gateway_scheduler_leader) > 1");
        assertThat(exprByAlert.get("ForgeQueueSchedulerStuck"))
                .contains(
                        "gpu_gateway_jobs_queue_oldest_seconds",
                        "gpu_gateway_workers_by_state{state=\"available\"}",
                        "gpu_gateway_scheduler_handouts_seconds_count");
        assertThat(exprByAlert.get("ForgeQueueWorkersRefused"))
                .contains("gpu_gateway_workers_by_state{state=\"refused\"}");
        assertThat(exprByAlert.get("ForgeQueueRevocationSpike")).contains("gpu_gateway_scheduler_revocations_total");
        assertThat(exprByAlert.get("ForgeWorkerBreakerOpen")).contains("gpu_worker_forge_breaker_state");
        assertThat(exprByAlert.get("ForgeQueueStuckJobsSwept")).contains("gpu_gateway_jobs_stuck_total");
        assertThat(exprByAlert.get("ForgeQueueOutboxLag")).contains("gpu_gateway_outbox_lag_seconds");
        assertThat(exprByAlert.get("ForgeQueueHighFailureRatio")).contains("gpu_gateway_jobs_finished_total");
        assertThat(exprByAlert.get("ForgeQueueDeadLetters")).contains("\\\\.dead");
        assertThat(exprByAlert.get("ForgeQueueGatewayDown")).contains("up{job=\"api-gateway\"}");
        assertThat(exprByAlert.get("ForgeWorkerDown")).contains("up{job=\"gpu-worker\"}");
        assertThat(exprByAlert.get("ForgeWorkersMissing")).contains("forgequeue:gpu_worker_targets:expected");
        assertThat(exprByAlert.get("ForgeQueueRabbitMQNodesMissing")).contains("forgequeue:rabbitmq_targets:expected");
    }

    // Issue 15: five of the thirteen rules had no unit test, and two of them could never fire.
    @Test
    void everyAlertIsShownToFireAndToStayQuietInTheUnitTests() {
        Map<String, Object> tests = OpsFiles.yamlFile("infra/prometheus/alerts-test.yml");
        Set<String> fire = new TreeSet<>();
        Set<String> quiet = new TreeSet<>();

        for (Map<String, Object> group : list(tests, "tests")) {
            for (Map<String, Object> check : list(group, "alert_rule_test")) {
                String name = string(check, "alertname");
                Object expected = at(check, "exp_alerts");
                if (expected instanceof List<?> l && !l.isEmpty()) {
                    fire.add(name);
                } else {
                    quiet.add(name);
                }
            }
        }

        Set<String> names = new TreeSet<>();
        alerts().forEach(alert -> names.add(string(alert, "alert")));
        assertThat(fire).as("alerts shown to fire in alerts-test.yml").containsAll(names);
        assertThat(quiet).as("alerts shown to stay quiet in alerts-test.yml").containsAll(names);
        assertThat(at(tests, "rule_files")).isEqualTo(List.of("alerts.yml"));
    }

    /**
     * A target that dies usually vanishes from discovery (Compose DNS, the Kubernetes pod filter), so {@code up == 0}
     * alone never fires for it: every job watched that way needs a rule on its targets' absence as well.
     */
    // Issue 15: ForgeWorkerDown and ForgeQueueRabbitMQDown could not fire for a vanished target.
    @Test
    void everyJobWatchedThroughUpEqualsZeroIsAlsoWatchedForVanishedTargets() {
        Pattern upIsZero = Pattern.compile("up\\{job=\"([a-z-]+)\"}\\s*==\\s*0");
        Set<String> watched = new TreeSet<>();
        List<String> exprs = new ArrayList<>();
        for (Map<String, Object> alert : alerts()) {
            String expr = string(alert, "expr");
            exprs.add(expr);
            Matcher m = upIsZero.matcher(expr);
            while (m.find()) {
                watched.add(m.group(1));
            }
        }

        assertThat(watched).contains("api-gateway", "gpu-worker", "rabbitmq");
        for (String job : watched) {
            String selector = "up{job=\"" + job + "\"}";
            assertThat(exprs)
                    .as("a rule on absent(%s) or count(%s)", selector, selector)
                    .anyMatch(e -> e.contains("absent(" + selector) || e.contains("count(" + selector));
        }
    }

    @Test
    void theLocalConfigurationScrapesGatewayWorkersAndBothRabbitMqEndpointsAndLoadsTheRules() {
        Map<String, Object> config = OpsFiles.yamlFile("infra/prometheus/prometheus.yml");
        Map<String, String> pathByTarget = new HashMap<>();
        Map<String, Map<String, Object>> labelsByTarget = new HashMap<>();

        for (Map<String, Object> job : list(config, "scrape_configs")) {
            String path = at(job, "metrics_path") == null ? "/metrics" : string(job, "metrics_path");
            for (Map<String, Object> sc : list(job, "static_configs")) {
                for (Object target : (List<?>) at(sc, "targets")) {
                    pathByTarget.put(string(job, "job_name") + " " + target, path);
                    labelsByTarget.put(target.toString(), map(sc, "labels"));
                }
            }
        }

        assertThat(at(config, "rule_files")).isEqualTo(List.of("alerts.yml"));
        assertThat(pathByTarget)
                .containsEntry("api-gateway 127.0.0.1:8081", "/actuator/prometheus")
                .containsEntry("gpu-worker 127.0.0.1:8091", "/actuator/prometheus")
                .containsEntry("gpu-worker 127.0.0.1:8092", "/actuator/prometheus")
                .containsEntry("rabbitmq 127.0.0.1:16701", "/metrics")
                .containsEntry("rabbitmq-per-object 127.0.0.1:16701", "/metrics/per-object");
        assertThat(labelsByTarget.get("127.0.0.1:8091")).containsEntry("worker", "worker-1");
        assertThat(labelsByTarget.get("127.0.0.1:8092")).containsEntry("worker", "worker-2");
        assertThat(labelsByTarget.get("127.0.0.1:8081")).containsKey("gateway");
    }

    /**
     * Debian's promtool is built without Kubernetes service discovery, so prometheus-k8s.yml is checked by
     * structure: pod discovery, the annotation opt-in, the same job names and labels as the local setup, the rules.
     */
    @Test
    void theKubernetesConfigurationDiscoversAnnotatedPodsAndLabelsThemLikeTheLocalSetup() {
        Map<String, Object> config = OpsFiles.yamlFile("infra/prometheus/prometheus-k8s.yml");
        List<Map<String, Object>> jobs = list(config, "scrape_configs");
        List<String> relabelText = new ArrayList<>();

        for (Map<String, Object> job : jobs) {
            assertThat(list(job, "kubernetes_sd_configs"))
                    .as("kubernetes_sd_configs of %s", string(job, "job_name"))
                    .isNotEmpty()
                    .allSatisfy(sd -> assertThat(sd).containsEntry("role", "pod"));
            for (Map<String, Object> rule : list(job, "relabel_configs")) {
                relabelText.add(rule.toString());
            }
        }

        assertThat(at(config, "rule_files")).isEqualTo(List.of("alerts.yml"));
        assertThat(jobs).extracting(j -> j.get("job_name")).contains("kubernetes-pods", "rabbitmq-per-object");
        assertThat(String.join("\n", relabelText))
                .contains("__meta_kubernetes_pod_annotation_prometheus_io_scrape")
                .contains("__meta_kubernetes_pod_annotation_prometheus_io_path")
                .contains("__meta_kubernetes_pod_annotation_prometheus_io_port")
                .contains("target_label=job")
                .contains("target_label=worker")
                .contains("target_label=gateway")
                .contains("target_label=pool");
    }

    private static List<Map<String, Object>> alerts() {
        List<Map<String, Object>> alerts = new ArrayList<>();
        for (Map<String, Object> group : list(OpsFiles.yamlFile("infra/prometheus/alerts.yml"), "groups")) {
            for (Map<String, Object> rule : list(group, "rules")) {
                if (rule.containsKey("alert")) {
                    alerts.add(rule);
                }
            }
        }
        return alerts;
    }
}
