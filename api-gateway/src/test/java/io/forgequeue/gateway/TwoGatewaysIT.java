package io.forgequeue.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.forgequeue.gateway.apikey.ApiKeys;
import io.forgequeue.gateway.fleet.WorkerDirectory;
import io.forgequeue.gateway.queue.QueueIndex;
import io.forgequeue.testsupport.PostgresEndpoint;
import io.forgequeue.testsupport.RabbitEndpoint;
import io.forgequeue.testsupport.TestInfrastructure;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.jdbc.core.JdbcTemplate;
import tools.jackson.databind.JsonNode;

/**
 * Two gateway instances (two Spring contexts) on one database and one virtual host: gateway A does not consume the
 * persist queue, so every event is merged by gateway B; both run the stuck-job sweep; exactly one of them is the
 * scheduler, and both keep their own queue index.
 */
class TwoGatewaysIT {

    static final RabbitEndpoint RABBIT = TestInfrastructure.rabbit().withFreshVirtualHost("two-gateways");
    static final PostgresEndpoint DB = TestInfrastructure.postgres().withFreshDatabase("two_gateways");
    static final Broker BROKER = new Broker(RABBIT);
    static ConfigurableApplicationContext gatewayA;
    static ConfigurableApplicationContext gatewayB;

    @BeforeAll
    static void start() {
        String[] shared = {"gateway.stuck-sweep.threshold=2s", "gateway.stuck-sweep.interval=250ms"};
        // one at a time: both would run the same Flyway migration (it locks, but sequential is simpler to read)
        gatewayA = Gateways.start(
                RABBIT, DB, concat(shared, "gateway.instance-id=gw-a", "gateway.events.merge-enabled=false"));
        gatewayB = Gateways.start(RABBIT, DB, concat(shared, "gateway.instance-id=gw-b"));
    }

    @AfterAll
    static void stop() {
        CompletableFuture.allOf(
                        CompletableFuture.runAsync(() -> gatewayA.close()),
                        CompletableFuture.runAsync(() -> gatewayB.close()))
                .join();
        BROKER.close();
    }

    private static String[] concat(String[] a, String... b) {
        List<String> all = new ArrayList<>(List.of(a));
        all.addAll(List.of(b));
        return all.toArray(new String[0]);
    }

    private static String newKey() {
        String raw = "two-" + UUID.randomUUID();
        gatewayB.getBean(ApiKeys.class).ensure("two", raw);
        return raw;
    }

    /** Whether {@code gateway} is the scheduler now (its leader gauge). */
    private static boolean leads(ConfigurableApplicationContext gateway) {
        return gateway.getBean(MeterRegistry.class)
                        .get("gpu.gateway.scheduler.leader")
                        .gauge()
                        .value()
                == 1.0;
    }

    private static String newPool() {
        return "p" + UUID.randomUUID().toString().substring(0, 8);
    }

    @Test
    void exactlyOneGatewayIsTheSchedulerAndBothServePositionsFromTheirOwnQueueIndex() {
        String key = newKey();
        String pool = newPool();
        Api a = new Api(Gateways.port(gatewayA));
        Api b = new Api(Gateways.port(gatewayB));
        List<UUID> jobs = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            jobs.add((i % 2 == 0 ? a : b)
                    .submit(key, Api.job(pool, "seen by both " + i))
                    .id());
        }

        await().atMost(Duration.ofSeconds(10)).until(() -> leads(gatewayA) != leads(gatewayB));
        String leader = leads(gatewayA) ? "gw-a" : "gw-b";
        assertThat(gatewayB.getBean(JdbcTemplate.class)
                        .queryForObject("select holder from scheduler_lease", String.class))
                .isEqualTo(leader);
        for (ConfigurableApplicationContext gateway : List.of(gatewayA, gatewayB)) {
            QueueIndex index = gateway.getBean(QueueIndex.class);
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                for (int i = 0; i < jobs.size(); i++) {
                    assertThat(index.standing(jobs.get(i)).position()).isEqualTo(i + 1);
                }
            });
        }
        for (Api gateway : List.of(a, b)) {
            for (int i = 0; i < jobs.size(); i++) {
                assertThat(gateway.get(key, "/api/v1/jobs/" + jobs.get(i))
                                .json()
                                .get("position")
                                .asInt())
                        .isEqualTo(i + 1);
            }
        }
        try (WsClient ws = WsClient.authenticated(Gateways.port(leader.equals("gw-a") ? gatewayB : gatewayA), key)) {
            ws.subscribe(jobs.get(2));
            assertThat(ws.nextOfType("snapshot").get("job").get("position").asInt())
                    .isEqualTo(3);

            (leader.equals("gw-a") ? a : b).delete(key, "/api/v1/jobs/" + jobs.get(0));

            JsonNode moved = ws.next(f -> "position".equals(f.path("type").asString()));
            assertThat(moved.get("position").asInt())
                    .as("the other gateway's index moved too")
                    .isEqualTo(2);
        }
    }

    @Test
    void jobsSubmittedOnEitherGatewayAreHandedOutByTheSchedulerToTheWorkersOfTheirPool() {
        String key = newKey();
        String pool = newPool();
        Api a = new Api(Gateways.port(gatewayA));
        Api b = new Api(Gateways.port(gatewayB));
        try (TestWorker gpu = TestWorker.in(RABBIT, pool).autoRun().start()) {
            UUID viaA = a.submit(key, Api.job(pool, "via a")).id();
            UUID viaB = b.submit(key, Api.job(pool, "via b")).id();

            for (UUID id : List.of(viaA, viaB)) {
                await().atMost(Duration.ofSeconds(15))
                        .until(() -> "SUCCEEDED"
                                .equals(b.get(key, "/api/v1/jobs/" + id)
                                        .json()
                                        .get("status")
                                        .asString()));
            }
            // (under load an assignment may be taken for lost and handed out again: the outcome still counts once)
            assertThat(gpu.receivedJobs()).containsAll(List.of(viaA, viaB));
            JdbcTemplate jdbc = gatewayB.getBean(JdbcTemplate.class);
            for (UUID id : List.of(viaA, viaB)) {
                assertThat(jdbc.queryForObject(
                                "select count(*) from job_state_history where job_id = ? "
                                        + "and to_status = 'SUCCEEDED'",
                                Long.class,
                                id))
                        .isEqualTo(1L);
            }
        }
    }

    private static double count(ConfigurableApplicationContext gateway, String name, String tag, String value) {
        MeterRegistry meters = gateway.getBean(MeterRegistry.class);
        Counter counter = tag == null
                ? meters.find(name).counter()
                : meters.find(name).tag(tag, value).counter();
        return counter == null ? 0 : counter.count();
    }

    @Test
    void aClientOnGatewayAReceivesTheEventsGatewayBMerged() {
        String key = newKey();
        String pool = newPool();
        Api a = new Api(Gateways.port(gatewayA));
        UUID id = a.submit(key, Api.job(pool, "across gateways")).id();
        double mergedByA = count(gatewayA, "gpu.gateway.events.merged", "outcome", "applied");
        double mergedByB = count(gatewayB, "gpu.gateway.events.merged", "outcome", "applied");
        try (WsClient ws = WsClient.authenticated(Gateways.port(gatewayA), key);
                TestWorker gpu = TestWorker.in(RABBIT, pool).start()) {
            ws.subscribe(id);
            ws.nextOfType("snapshot");
            JobAttempt worker = gpu.next();

            worker.publish(worker.running(), worker.progress(50), worker.succeeded(1));

            JsonNode done = ws.next(f -> "update".equals(f.path("type").asString())
                    && "SUCCEEDED".equals(f.get("job").get("status").asString()));
            assertThat(done.get("job").get("id").asString()).isEqualTo(id.toString());
        }
        assertThat(count(gatewayA, "gpu.gateway.events.merged", "outcome", "applied"))
                .isEqualTo(mergedByA);
        assertThat(count(gatewayB, "gpu.gateway.events.merged", "outcome", "applied"))
                .isGreaterThan(mergedByB);
    }

    @Test
    void theStuckSweepsOfTwoGatewaysFailEachStuckJobExactlyOnceAndTellTheClients() {
        String key = newKey();
        String pool = newPool();
        Api a = new Api(Gateways.port(gatewayA));
        List<TestWorker> workers = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            workers.add(TestWorker.in(RABBIT, pool).start());
        }
        List<UUID> jobs = new ArrayList<>();
        double stuckBefore = count(gatewayA, "gpu.gateway.jobs.stuck", null, null)
                + count(gatewayB, "gpu.gateway.jobs.stuck", null, null);
        JdbcTemplate jdbc = gatewayB.getBean(JdbcTemplate.class);
        for (ConfigurableApplicationContext gateway : List.of(gatewayA, gatewayB)) {
            await().atMost(Duration.ofSeconds(10))
                    .until(() -> gateway.getBean(WorkerDirectory.class)
                                    .available(pool)
                                    .size()
                            == 6);
        }
        try (WsClient ws = WsClient.authenticated(Gateways.port(gatewayA), key)) {
            // one job per worker: each handed out alone goes to a worker that holds none
            for (int i = 0; i < 6; i++) {
                UUID id = a.submit(key, Api.job(pool, "stuck " + i)).id();
                jobs.add(id);
                await().atMost(Duration.ofSeconds(10))
                        .until(() ->
                                jdbc.queryForObject("select assigned_worker from job where id = ?", String.class, id)
                                        != null);
            }
            ws.subscribe(jobs.get(0));
            ws.nextOfType("snapshot");
            for (TestWorker worker : workers) {
                JobAttempt hung = worker.next();
                hung.publish(hung.running());
            }

            JsonNode failed = ws.next(f -> "update".equals(f.path("type").asString())
                    && "FAILED".equals(f.get("job").get("status").asString()));
            await().atMost(Duration.ofSeconds(15))
                    .until(() -> jdbc.queryForObject(
                                    "select count(*) from job where status = 'FAILED' and error_code = 'JOB_STUCK' and id = any(?::uuid[])",
                                    Long.class,
                                    "{"
                                            + String.join(
                                                    ",",
                                                    jobs.stream()
                                                            .map(UUID::toString)
                                                            .toList()) + "}")
                            == 6);

            assertThat(failed.get("job").get("error").get("code").asString()).isEqualTo("JOB_STUCK");
            assertThat(failed.get("job").get("error").get("message").asString())
                    .contains("stopped reporting progress for more than 2 seconds");
            for (UUID id : jobs) {
                assertThat(jdbc.queryForObject(
                                "select count(*) from job_state_history where job_id = ? "
                                        + "and from_status = 'RUNNING' and to_status = 'FAILED'",
                                Long.class,
                                id))
                        .as("job %s failed once", id)
                        .isEqualTo(1L);
                assertThat(jdbc.queryForObject(
                                "select count(*) from outbox where job_id = ? and kind = 'CANCEL'", Long.class, id))
                        .isEqualTo(1L);
            }
            assertThat(count(gatewayA, "gpu.gateway.jobs.stuck", null, null)
                            + count(gatewayB, "gpu.gateway.jobs.stuck", null, null)
                            - stuckBefore)
                    .isEqualTo(6.0);
        } finally {
            workers.forEach(TestWorker::close);
        }
    }
}
