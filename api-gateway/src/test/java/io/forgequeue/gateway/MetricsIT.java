package io.forgequeue.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.forgequeue.gateway.apikey.ApiKeys;
import io.forgequeue.gateway.queue.QueueIndex;
import io.forgequeue.model.ErrorCode;
import io.forgequeue.testsupport.PostgresEndpoint;
import io.forgequeue.testsupport.RabbitEndpoint;
import io.forgequeue.testsupport.TestInfrastructure;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * The gateway's metrics as Prometheus reads them from {@code /actuator/prometheus}: every series of the catalogue
 * (docs/metrics.md) with its tags, present and at zero from startup; failures counted by error code and pool;
 * WebSocket delivery lag; REST latency buckets; per-pool queue gauges. A gateway of its own (fresh virtual host and
 * database), so that its first scrape shows the state at startup and no other test's jobs are counted.
 */
class MetricsIT {

    static final RabbitEndpoint RABBIT = TestInfrastructure.rabbit().withFreshVirtualHost("metrics");
    static final PostgresEndpoint DB = TestInfrastructure.postgres().withFreshDatabase("metrics");
    static final Broker BROKER = new Broker(RABBIT);
    /** The configured pools: one per test, so no test sees another's jobs in its pool. */
    static final List<String> POOLS =
            List.of("default", "m-fail", "m-lag", "m-http", "m-stuck", "m-cancel", "m-gauge", "m-position");

    static org.springframework.context.ConfigurableApplicationContext gateway;
    static Api api;
    static Api management;
    static int port;
    /** The first scrape, taken before any request or job. */
    static PrometheusScrape atStartup;

    @BeforeAll
    static void start() {
        // one event consumer: the events of a job are merged in the order the test worker sent them
        gateway = Gateways.start(
                RABBIT,
                DB,
                "gateway.instance-id=gw-metrics",
                "gateway.events.consumers=1",
                "gateway.jobs.pools=" + String.join(",", POOLS),
                "gateway.stuck-sweep.threshold=4s",
                "gateway.stuck-sweep.interval=250ms");
        port = Gateways.port(gateway);
        api = new Api(port);
        management = Gateways.management(gateway);
        atStartup = PrometheusScrape.of(management);
    }

    @AfterAll
    static void stop() {
        if (gateway != null) {
            gateway.close();
        }
        BROKER.close();
    }

    private static String newKey() {
        String raw = "metrics-" + UUID.randomUUID();
        gateway.getBean(ApiKeys.class).ensure("metrics", raw);
        return raw;
    }

    private static PrometheusScrape scrape() {
        return PrometheusScrape.of(management);
    }

    /** A worker of {@code pool} on this class's broker; the test closes it. */
    private static TestWorker worker(String pool) {
        return TestWorker.in(RABBIT, pool).start();
    }

    private static String status(String key, UUID id) {
        return api.get(key, "/api/v1/jobs/" + id).json().get("status").asString();
    }

    @Test
    void everyGatewayMetricOfTheCatalogueIsExportedFromStartupWithExactlyItsCataloguedTags() {
        Map<String, Catalogued> catalogue = gatewayCatalogue();
        Map<String, String> problems = new LinkedHashMap<>();

        catalogue.forEach((name, entry) -> {
            List<PrometheusScrape.Sample> series = seriesOf(atStartup, name, entry);
            if (series.isEmpty()) {
                problems.put(name, "no series at startup");
                return;
            }
            if (entry.histogram() && atStartup.samples(name + "_bucket").isEmpty()) {
                problems.put(name, "catalogued as a histogram but has no _bucket series");
            }
            for (PrometheusScrape.Sample s : series) {
                Set<String> tags = new TreeSet<>(s.labels().keySet());
                tags.remove("application");
                tags.remove("le");
                if (!tags.equals(entry.tags())) {
                    problems.put(name, "tags " + tags + ", catalogue says " + entry.tags());
                }
                if (!"api-gateway".equals(s.labels().get("application"))) {
                    problems.put(name, "no application=\"api-gateway\" tag");
                }
            }
        });

        assertThat(catalogue).as("gpu_gateway_* metrics in docs/metrics.md").hasSizeGreaterThanOrEqualTo(15);
        assertThat(problems)
                .as("catalogue vs the running gateway's first scrape")
                .isEmpty();
    }

    @Test
    void everyThreadPoolOfTheGatewayExposesItsQueueUnderItsName() {
        Set<String> pools = atStartup.all().stream()
                .filter(s -> s.name().equals("executor_queued_tasks"))
                .map(s -> s.labels().get("name"))
                .collect(java.util.stream.Collectors.toSet());

        // the pools listed in docs/metrics.md (scheduler-lease only while this gateway schedules, which it does here)
        assertThat(pools)
                .contains(
                        "ws-send",
                        "ws-timer",
                        "ws-positions",
                        "ws-queue",
                        "ws-reconcile",
                        "relay-publisher",
                        "retention",
                        "scheduler-lease");
    }

    @Test
    void atStartupEveryOutcomeErrorCodeReasonAndPoolHasASeriesAtZero() {
        // states rather than counts of what happened: connected, listening to PostgreSQL, leading the scheduler (whose
        // rounds run on its tick from the moment it leads)
        Set<String> states = Set.of(
                "gpu_gateway_broker_connected",
                "gpu_gateway_pg_notifications_resyncs_total",
                "gpu_gateway_scheduler_leader",
                "gpu_gateway_scheduler_leader_changes_total",
                "gpu_gateway_scheduler_rounds_total");
        List<PrometheusScrape.Sample> ours = atStartup.all().stream()
                .filter(s -> s.name().startsWith("gpu_gateway_"))
                .filter(s -> !states.contains(s.name()))
                .toList();

        assertThat(ours)
                .as("gpu_gateway_* series at startup")
                .isNotEmpty()
                .allSatisfy(s -> assertThat(s.value())
                        .as("%s %s at startup", s.name(), s.labels())
                        .isZero());
        assertThat(atStartup.value("gpu_gateway_broker_connected"))
                .as("connected to the broker at startup")
                .isEqualTo(1.0);
        assertThat(atStartup.value("gpu_gateway_pg_notifications_resyncs_total"))
                .as("the first LISTEN, if made yet")
                .isBetween(0.0, 1.0);
        assertThat(atStartup.value("gpu_gateway_scheduler_leader_changes_total"))
                .as("became the scheduler once if it took the lease yet")
                .isEqualTo(atStartup.value("gpu_gateway_scheduler_leader"))
                .isBetween(0.0, 1.0);
        await("the only gateway leads")
                .atMost(Duration.ofSeconds(10))
                .until(() -> scrape().value("gpu_gateway_scheduler_leader") == 1.0);
        for (String reason : List.of("lost", "gone", "restarted", "paused", "lost-message", "returned")) {
            assertThat(atStartup.value("gpu_gateway_scheduler_revocations_total", "reason", reason))
                    .isZero();
        }
        for (String pool : POOLS) {
            for (ErrorCode code : ErrorCode.values()) {
                assertThat(atStartup.value(
                                "gpu_gateway_jobs_finished_total",
                                "outcome",
                                "failed",
                                "code",
                                code.name(),
                                "pool",
                                pool))
                        .isZero();
            }
            assertThat(atStartup.value(
                            "gpu_gateway_jobs_finished_total", "outcome", "succeeded", "code", "none", "pool", pool))
                    .isZero();
            assertThat(atStartup.value(
                            "gpu_gateway_jobs_finished_total", "outcome", "cancelled", "code", "none", "pool", pool))
                    .isZero();
            assertThat(atStartup.value("gpu_gateway_jobs_submitted_total", "pool", pool))
                    .isZero();
            assertThat(atStartup.value("gpu_gateway_jobs_requeued_total", "pool", pool))
                    .isZero();
            assertThat(atStartup.value("gpu_gateway_jobs_queue_wait_seconds_count", "pool", pool))
                    .isZero();
            assertThat(atStartup.value("gpu_gateway_jobs_run_time_seconds_count", "pool", pool))
                    .isZero();
            assertThat(atStartup.value("gpu_gateway_jobs_by_state", "state", "queued", "pool", pool))
                    .isZero();
        }
        assertThat(atStartup.samples("gpu_gateway_jobs_finished_total"))
                .hasSize(POOLS.size() * (2 + ErrorCode.values().length));
        for (String reason : List.of(
                "duplicate",
                "terminal",
                "stale-attempt",
                "revoked",
                "unknown-assignment",
                "illegal-transition",
                "unknown-job",
                "unreadable",
                "error")) {
            assertThat(atStartup.value("gpu_gateway_events_rejected_total", "reason", reason))
                    .isZero();
        }
        for (String reason : List.of("validation", "priority", "cap", "idempotency")) {
            assertThat(atStartup.value("gpu_gateway_jobs_refused_total", "reason", reason))
                    .isZero();
        }
        assertThat(atStartup.value("gpu_gateway_jobs_stuck_total")).isZero();
        assertThat(atStartup.value("gpu_gateway_websocket_delivery_lag_seconds_count"))
                .isZero();
    }

    @Test
    void aJobThatFailsIsCountedUnderItsErrorCodeAndPoolAndItsRequeueQueueWaitAndRunTimeToo() {
        String key = newKey();
        PrometheusScrape before;
        PrometheusScrape after;
        try (TestWorker gpu = worker("m-fail")) {
            UUID id = api.submit(key, Api.job("m-fail", "fails")).id();
            before = scrape();
            JobAttempt first = gpu.next();
            first.publish(first.running(), first.requeued());
            JobAttempt second = gpu.next().clockAt(Instant.now().plusSeconds(2));
            assertThat(second.attempt())
                    .as("handed out again after it was given back")
                    .isEqualTo(2);
            second.publish(second.running(), second.progress(40), second.failed(ErrorCode.FORGE_OUT_OF_MEMORY));
            await().atMost(Duration.ofSeconds(10)).until(() -> "FAILED".equals(status(key, id)));
            after = scrape();
        }

        assertThat(delta(
                        before,
                        after,
                        "gpu_gateway_jobs_finished_total",
                        "outcome",
                        "failed",
                        "code",
                        "FORGE_OUT_OF_MEMORY",
                        "pool",
                        "m-fail"))
                .isEqualTo(1.0);
        assertThat(delta(before, after, "gpu_gateway_jobs_finished_total"))
                .as("nothing else finished")
                .isEqualTo(1.0);
        assertThat(delta(before, after, "gpu_gateway_jobs_requeued_total", "pool", "m-fail"))
                .isEqualTo(1.0);
        assertThat(delta(before, after, "gpu_gateway_jobs_queue_wait_seconds_count", "pool", "m-fail"))
                .as("both attempts started")
                .isEqualTo(2.0);
        assertThat(delta(before, after, "gpu_gateway_jobs_run_time_seconds_count", "pool", "m-fail"))
                .isEqualTo(1.0);
        assertThat(after.value("gpu_gateway_jobs_run_time_seconds_bucket", "pool", "m-fail", "le", "+Inf"))
                .isEqualTo(after.value("gpu_gateway_jobs_run_time_seconds_count", "pool", "m-fail"));
        assertThat(after.value("gpu_gateway_jobs_submitted_total", "pool", "m-fail"))
                .isEqualTo(1.0);
    }

    @Test
    void aJobFailedByTheStuckSweepIsCountedUnderJobStuck() {
        String key = newKey();
        PrometheusScrape before;
        PrometheusScrape after;
        try (TestWorker gpu = worker("m-stuck")) {
            UUID id = api.submit(key, Api.job("m-stuck", "hangs")).id();
            JobAttempt worker = gpu.next();
            before = scrape();

            worker.publish(worker.running());
            await().atMost(Duration.ofSeconds(15)).until(() -> "FAILED".equals(status(key, id)));
            after = scrape();
        }

        assertThat(delta(
                        before,
                        after,
                        "gpu_gateway_jobs_finished_total",
                        "outcome",
                        "failed",
                        "code",
                        "JOB_STUCK",
                        "pool",
                        "m-stuck"))
                .isEqualTo(1.0);
        assertThat(delta(before, after, "gpu_gateway_jobs_stuck_total")).isEqualTo(1.0);
    }

    @Test
    void aJobCancelledWhileQueuedIsCountedAsCancelledWithoutACode() {
        String key = newKey();
        UUID id = api.submit(key, Api.job("m-cancel", "cancelled")).id();
        PrometheusScrape before = scrape();

        assertThat(api.delete(key, "/api/v1/jobs/" + id).status()).isLessThan(300);
        PrometheusScrape after = scrape();

        assertThat(status(key, id)).isEqualTo("CANCELLED");
        assertThat(delta(
                        before,
                        after,
                        "gpu_gateway_jobs_finished_total",
                        "outcome",
                        "cancelled",
                        "code",
                        "none",
                        "pool",
                        "m-cancel"))
                .isEqualTo(1.0);
    }

    @Test
    void everyUpdateFrameAWebSocketClientReceivedIsInTheDeliveryLagHistogram() {
        String key = newKey();
        UUID id = api.submit(key, Api.job("m-lag", "watched")).id();
        PrometheusScrape before = scrape();
        List<JsonNode> updates = new ArrayList<>();
        try (WsClient ws = WsClient.authenticated(port, key);
                TestWorker gpu = worker("m-lag")) {
            ws.subscribe(id);
            ws.nextOfType("snapshot");
            JobAttempt worker = gpu.next();

            worker.publish(worker.running(), worker.progress(50), worker.succeeded(1));
            ws.next(f -> "update".equals(f.path("type").asString())
                    && "SUCCEEDED".equals(f.path("job").path("status").asString()));
            ws.seen().stream()
                    .filter(f -> "update".equals(f.path("type").asString()))
                    .forEach(updates::add);
        }
        PrometheusScrape after = scrape();

        assertThat(updates).as("update frames received").isNotEmpty();
        assertThat(delta(before, after, "gpu_gateway_websocket_delivery_lag_seconds_count"))
                .as("one lag sample per update frame sent")
                .isEqualTo(updates.size());
        assertThat(after.value("gpu_gateway_websocket_delivery_lag_seconds_bucket", "le", "+Inf"))
                .isEqualTo(after.value("gpu_gateway_websocket_delivery_lag_seconds_count"));
        assertThat(after.samples("gpu_gateway_websocket_delivery_lag_seconds_bucket"))
                .hasSizeGreaterThan(20);
        assertThat(delta(before, after, "gpu_gateway_websocket_delivery_lag_seconds_sum"))
                .as("total lag of these frames, in seconds")
                .isBetween(0.0, 10.0);
    }

    @Test
    void aPositionPushCountsTheStandingsItLooksUpAndBuildsEachJobsFrameOnceForAllItsWatchers() {
        String key = newKey();
        UUID first = api.submit(key, Api.job("m-position", "first")).id();
        UUID second = api.submit(key, Api.job("m-position", "second")).id();
        try (WsClient one = WsClient.authenticated(port, key);
                WsClient two = WsClient.authenticated(port, key)) {
            for (WsClient ws : List.of(one, two)) {
                ws.subscribe(second);
                assertThat(ws.nextOfType("snapshot").get("job").get("position").asInt())
                        .isEqualTo(2);
            }
            PrometheusScrape before = scrape();

            assertThat(api.delete(key, "/api/v1/jobs/" + first).status()).isLessThan(300);
            for (WsClient ws : List.of(one, two)) {
                ws.next(f -> "position".equals(f.path("type").asString())
                        && f.path("position").asInt() == 1);
            }
            PrometheusScrape after = scrape();

            String work = "gpu_gateway_websocket_position_computations_total";
            double standings = delta(before, after, work, "kind", "standing");
            double built = delta(before, after, work, "kind", "frame");
            double pushed = delta(before, after, "gpu_gateway_websocket_frames_total", "type", "position");
            assertThat(built).as("the new position's frame was built").isGreaterThanOrEqualTo(1);
            assertThat(standings).as("a frame needs its standing").isGreaterThanOrEqualTo(built);
            assertThat(pushed).as("both watchers got it").isGreaterThanOrEqualTo(2);
            assertThat(built)
                    .as("built once per push for both watchers, not once per watcher")
                    .isLessThan(pushed);
        }
    }

    @Test
    void restLatencyIsExportedAsAHistogramThatPercentilesCanBeComputedFrom() {
        String key = newKey();
        UUID id = api.submit(key, Api.job("m-http", "timed")).id();
        api.get(key, "/api/v1/jobs/" + id);

        PrometheusScrape after = scrape();

        List<PrometheusScrape.Sample> buckets = after.samples("http_server_requests_seconds_bucket").stream()
                .filter(s -> s.has("method", "POST", "uri", "/api/v1/jobs", "status", "202"))
                .toList();
        assertThat(buckets).as("buckets of POST /api/v1/jobs 202").hasSizeGreaterThanOrEqualTo(30);
        assertThat(buckets).extracting(s -> s.labels().get("le")).contains("+Inf", "0.001", "10.0");
        assertThat(after.value(
                        "http_server_requests_seconds_bucket",
                        "method",
                        "POST",
                        "uri",
                        "/api/v1/jobs",
                        "status",
                        "202",
                        "le",
                        "+Inf"))
                .isEqualTo(after.value(
                        "http_server_requests_seconds_count",
                        "method",
                        "POST",
                        "uri",
                        "/api/v1/jobs",
                        "status",
                        "202"));
        assertThat(after.samples("http_server_requests_seconds_bucket").stream()
                        .anyMatch(s -> s.has("method", "GET", "uri", "/api/v1/jobs/{id}", "status", "200")))
                .isTrue();
    }

    @Test
    void theStateGaugesCountTheJobsOfEachPoolAndTheActiveWorkers() {
        String key = newKey();
        UUID first = api.submit(key, Api.job("m-gauge", "one")).id();
        UUID second = api.submit(key, Api.job("m-gauge", "two")).id();

        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            PrometheusScrape now = scrape();
            assertThat(now.value("gpu_gateway_jobs_by_state", "state", "queued", "pool", "m-gauge"))
                    .isEqualTo(2.0);
            assertThat(now.value("gpu_gateway_jobs_by_state", "state", "running", "pool", "m-gauge"))
                    .isZero();
        });
        try (TestWorker gpu = worker("m-gauge")) {
            JobAttempt worker = gpu.next();
            assertThat(worker.jobId()).isEqualTo(first);
            worker.publish(worker.running());
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
                PrometheusScrape now = scrape();
                assertThat(now.value("gpu_gateway_jobs_by_state", "state", "queued", "pool", "m-gauge"))
                        .as("the second, assigned to the worker, waits for it")
                        .isEqualTo(1.0);
                assertThat(now.value("gpu_gateway_jobs_by_state", "state", "running", "pool", "m-gauge"))
                        .isEqualTo(1.0);
                assertThat(now.value("gpu_gateway_workers_active")).isEqualTo(1.0);
            });
            worker.publish(worker.succeeded(1));
            assertThat(api.delete(key, "/api/v1/jobs/" + second)
                            .json()
                            .path("status")
                            .asString())
                    .as("the second job, cancelled before it started")
                    .isEqualTo("CANCELLED");
        }

        // the gauges are refreshed from the in-memory queue index; if they lag, the message tells whether the index
        // (fed by PostgreSQL's notifications) or the refresh is behind
        QueueIndex index = gateway.getBean(QueueIndex.class);
        await().atMost(Duration.ofSeconds(15)).untilAsserted(() -> {
            PrometheusScrape now = scrape();
            String state = "index: " + index.counts().get("m-gauge") + ", second job: "
                    + api.get(key, "/api/v1/jobs/" + second)
                            .json()
                            .path("status")
                            .asString();
            assertThat(now.value("gpu_gateway_jobs_by_state", "state", "queued", "pool", "m-gauge"))
                    .as(state)
                    .isZero();
            assertThat(now.value("gpu_gateway_jobs_by_state", "state", "running", "pool", "m-gauge"))
                    .as(state)
                    .isZero();
        });
    }

    private static double delta(PrometheusScrape before, PrometheusScrape after, String name, String... labels) {
        return after.sum(name, labels) - before.sum(name, labels);
    }

    /** A gpu_gateway_* row of docs/metrics.md: its tag keys, and whether it is a histogram. */
    record Catalogued(Set<String> tags, boolean histogram) {}

    /** The series that belong to a catalogued name: the name itself, or a histogram's _bucket/_count/_sum/_max. */
    private static List<PrometheusScrape.Sample> seriesOf(PrometheusScrape scrape, String name, Catalogued entry) {
        List<PrometheusScrape.Sample> all = new ArrayList<>(scrape.samples(name));
        if (entry.histogram()) {
            for (String suffix : List.of("_bucket", "_count", "_sum", "_max")) {
                all.addAll(scrape.samples(name + suffix));
            }
        }
        return all;
    }

    private static final Pattern ROW = Pattern.compile("^\\|\\s*`(gpu_gateway_[a-z0-9_]+)`\\s*\\|(.*)$");
    private static final Pattern TAG = Pattern.compile("^\\s*`([a-z_]+)`");

    /** The api-gateway's own metrics in docs/metrics.md: name -> tags and kind. */
    static Map<String, Catalogued> gatewayCatalogue() {
        Map<String, Catalogued> rows = new LinkedHashMap<>();
        for (String line : catalogueText().split("\n")) {
            Matcher m = ROW.matcher(line);
            if (!m.matches()) {
                continue;
            }
            String[] cells = m.group(2).split("(?<!\\\\)\\|");
            String type = cells[0].trim();
            Set<String> tags = new HashSet<>();
            String tagCell = cells[1].trim();
            if (!tagCell.equals("–") && !tagCell.equals("-")) {
                for (String part : tagCell.split(";")) {
                    Matcher t = TAG.matcher(part);
                    if (!t.find()) {
                        throw new AssertionError("tag cell of " + m.group(1) + " not read: " + tagCell);
                    }
                    tags.add(t.group(1));
                }
            }
            rows.put(m.group(1), new Catalogued(new TreeSet<>(tags), type.contains("histogram")));
        }
        return rows;
    }

    private static String catalogueText() {
        for (Path dir = Path.of(System.getProperty("user.dir")).toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path doc = dir.resolve("docs/metrics.md");
            if (Files.isRegularFile(doc)) {
                try {
                    return Files.readString(doc);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        }
        throw new AssertionError("docs/metrics.md not found above " + System.getProperty("user.dir"));
    }
}
