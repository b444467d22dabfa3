package io.forgequeue.systemtest.ops;

import static io.forgequeue.systemtest.ops.OpsFiles.at;
import static io.forgequeue.systemtest.ops.OpsFiles.list;
import static io.forgequeue.systemtest.ops.OpsFiles.string;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.json.JsonMapper;

/**
 * The Grafana dashboard (infra/grafana/dashboards/forge-queue.json) and its provisioning: every metric a panel
 * queries is in the catalogue docs/metrics.md, every query is valid PromQL, and the panels operators need exist.
 */
class GrafanaDashboardTest {

    private static Map<String, Object> dashboard;
    /** "title (id n)" of a panel -> its queries. */
    private static Map<String, List<String>> queriesByPanel;

    @BeforeAll
    @SuppressWarnings("unchecked")
    static void parseTheDashboard() {
        dashboard = JsonMapper.builder()
                .build()
                .readValue(OpsFiles.read("infra/grafana/dashboards/forge-queue.json"), Map.class);
        queriesByPanel = new LinkedHashMap<>();
        for (Map<String, Object> panel : panels()) {
            List<String> queries = new ArrayList<>();
            for (Map<String, Object> target : list(panel, "targets")) {
                queries.add(string(target, "expr"));
            }
            if (!queries.isEmpty()) {
                queriesByPanel.put(string(panel, "title") + " (id " + panel.get("id") + ")", queries);
            }
        }
        assertThat(queriesByPanel).as("panels with queries").hasSizeGreaterThanOrEqualTo(20);
    }

    @Test
    void everyMetricInAPanelQueryIsInTheMetricCatalogue() {
        Set<String> catalogue = OpsFiles.catalogue();
        Map<String, String> unknown = new TreeMap<>();

        queriesByPanel.forEach((title, queries) -> queries.forEach(q -> OpsFiles.metricNames(q).stream()
                .filter(name -> !OpsFiles.isCatalogued(name, catalogue))
                .forEach(name -> unknown.put(name, title))));

        assertThat(unknown).as("metric -> panel, not in docs/metrics.md").isEmpty();
    }

    @Test
    void theMetricNameReaderFindsMetricsButNotFunctionsLabelsOrVariables() {
        String query = "histogram_quantile(0.95, sum by (le, call) (rate(gpu_worker_forge_calls_seconds_bucket"
                + "{worker=~\"$worker\",call=\"txt2img\"}[$__rate_interval]))) / on (job) group_left up offset 5m";

        assertThat(OpsFiles.metricNames(query)).containsExactly("gpu_worker_forge_calls_seconds_bucket", "up");
        assertThat(OpsFiles.isCatalogued(
                        "gpu_worker_forge_calls_seconds_bucket", Set.of("gpu_worker_forge_calls_seconds")))
                .isTrue();
        assertThat(OpsFiles.isCatalogued("gpu_worker_no_such_metric", Set.of("gpu_worker_forge_calls_seconds")))
                .isFalse();
    }

    @Test
    void everyPanelQueryIsValidPromQl(@TempDir Path tmp) throws IOException {
        // promtool parses every expression of a rule file: the queries become recording rules, with Grafana's
        // variables replaced by values they take.
        StringBuilder rules = new StringBuilder("groups:\n  - name: dashboard\n    rules:\n");
        int n = 0;
        for (List<String> queries : queriesByPanel.values()) {
            for (String query : queries) {
                String expr = query.replace("$__rate_interval", "1m")
                        .replace("$__range", "1h")
                        .replace("$pool", "[a-z0-9-]+")
                        .replace("$worker", ".*");
                rules.append("      - record: dashboard:query")
                        .append(n++)
                        .append('\n')
                        .append("        expr: '")
                        .append(expr.replace("'", "''"))
                        .append("'\n");
            }
        }
        Files.writeString(tmp.resolve("dashboard-rules.yml"), rules);

        OpsFiles.Result result = OpsFiles.promtool(tmp, "check", "rules", "dashboard-rules.yml");

        assertThat(result.exitCode())
                .as("promtool check rules on the dashboard's queries:\n%s\n%s", result.output(), rules)
                .isZero();
        assertThat(result.output()).contains(n + " rules found");
    }

    @Test
    void theDashboardShowsWhatOperatorsWatch() {
        Set<String> used = new HashSet<>();
        List<String> all = new ArrayList<>();
        queriesByPanel.values().forEach(all::addAll);
        all.forEach(q -> used.addAll(OpsFiles.metricNames(q)));
        String joined = String.join("\n", all);

        assertThat(used)
                .contains(
                        "rabbitmq_queue_messages_ready", // messages per queue (events, dead letters, ...)
                        "gpu_gateway_jobs_by_state", // queue depth: job rows per pool and state
                        "gpu_gateway_jobs_queue_oldest_seconds", // ... and the oldest queued job (scaling signal)
                        "gpu_gateway_workers_by_state", // workers per pool: available, paused, refused
                        "gpu_gateway_scheduler_handouts_seconds_count", // hand-outs per second
                        "gpu_gateway_scheduler_handouts_seconds_bucket", // ... and the decision latency
                        "gpu_gateway_scheduler_revocations_total", // revocations by reason
                        "gpu_gateway_scheduler_leader", // the leader per gateway
                        "gpu_gateway_keys_jobs", // per key: queued and running
                        "gpu_gateway_keys_gpu_time_seconds_total", // ... and GPU time share
                        "gpu_gateway_jobs_submitted_total", // throughput
                        "gpu_gateway_jobs_finished_total", // ... by outcome, failures by error code
                        "gpu_gateway_jobs_requeued_total", // jobs given back
                        "gpu_gateway_jobs_queue_wait_seconds_bucket", // queue wait percentiles
                        "gpu_gateway_jobs_run_time_seconds_bucket", // run time percentiles
                        "gpu_worker_forge_calls_seconds_bucket", // Forge call latency
                        "gpu_worker_busy_time_seconds_total", // duty cycle per worker
                        "gpu_worker_forge_breaker_state", // breaker per worker
                        "gpu_worker_jobs_total", // worker outcomes
                        "gpu_gateway_websocket_sessions", // WebSocket sessions
                        "gpu_gateway_websocket_delivery_lag_seconds_bucket", // ... and their delivery lag
                        "http_server_requests_seconds_bucket", // REST latency percentiles
                        "gpu_gateway_outbox_lag_seconds"); // outbox lag
        assertThat(joined)
                .contains("histogram_quantile(0.95, sum by (le) (rate(gpu_gateway_jobs_queue_wait_seconds_bucket")
                .contains("sum by (code) (increase(gpu_gateway_jobs_finished_total{outcome=\"failed\"")
                .contains("max by (pool, state) (gpu_gateway_jobs_by_state{pool=~\"$pool\"})")
                .contains("max by (pool, state) (gpu_gateway_workers_by_state{pool=~\"$pool\"})")
                .contains("histogram_quantile(0.99, sum by (le) (rate(gpu_gateway_scheduler_handouts_seconds_bucket")
                .contains("sum by (reason) (rate(gpu_gateway_scheduler_revocations_total")
                .contains("max by (gateway) (gpu_gateway_scheduler_leader)")
                .contains("sum by (queue) (rabbitmq_queue_messages_ready");
        // the backlog is in PostgreSQL since issue 16: no panel reads it from the broker's (gone) pool queues
        assertThat(joined).doesNotContain("forge\\\\.jobs\\\\.($pool)");
    }

    @Test
    void panelsHaveUniqueIdsAndAskForThePrometheusDataSourceVariable() {
        Set<Object> ids = new HashSet<>();

        for (Map<String, Object> panel : panels()) {
            assertThat(ids.add(panel.get("id")))
                    .as("unique id of panel %s", panel.get("title"))
                    .isTrue();
            if (!"row".equals(panel.get("type"))) {
                assertThat(at(panel, "datasource.uid"))
                        .as("data source of %s", panel.get("title"))
                        .isEqualTo("${datasource}");
            }
        }

        assertThat(string(dashboard, "uid")).isEqualTo("forge-queue");
        assertThat(list(dashboard, "templating.list"))
                .extracting(v -> v.get("name"))
                .contains("datasource", "pool", "worker");
    }

    @Test
    void provisioningDeclaresAPrometheusDataSourceAndLoadsTheDashboardsFromFiles() {
        Map<String, Object> datasources = OpsFiles.yamlFile("infra/grafana/provisioning/datasources/prometheus.yml");
        Map<String, Object> dashboards = OpsFiles.yamlFile("infra/grafana/provisioning/dashboards/dashboards.yml");

        assertThat(list(datasources, "datasources"))
                .singleElement()
                .satisfies(
                        ds -> assertThat(ds).containsEntry("type", "prometheus").containsKey("url"));
        assertThat(list(dashboards, "providers"))
                .singleElement()
                .satisfies(p -> assertThat(p).containsEntry("type", "file"))
                .satisfies(p -> assertThat(string(p, "options.path")).isNotBlank());
    }

    private static List<Map<String, Object>> panels() {
        List<Map<String, Object>> all = new ArrayList<>();
        for (Map<String, Object> panel : list(dashboard, "panels")) {
            all.add(panel);
            all.addAll(list(panel, "panels")); // panels of collapsed rows
        }
        return all;
    }
}
