package io.forgequeue.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.forgequeue.gateway.apikey.ApiKeys;
import io.forgequeue.gateway.fleet.WorkerDirectory;
import io.forgequeue.gateway.job.JobMoves;
import io.forgequeue.testsupport.PostgresEndpoint;
import io.forgequeue.testsupport.RabbitEndpoint;
import io.forgequeue.testsupport.TestInfrastructure;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.jdbc.core.JdbcTemplate;

/**
 * Leadership of the scheduler between two gateway instances (two Spring contexts) on one database and one virtual
 * host: exactly one hands out work, a gateway whose lease was taken hands out nothing (its assign statement is
 * fenced by the lease in PostgreSQL), and when the lease is free again or the leader stops, the other takes over
 * and hands out. Leases are short here (2 s, renewed every 250 ms).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SchedulerLeaseIT {

    static final RabbitEndpoint RABBIT = TestInfrastructure.rabbit().withFreshVirtualHost("scheduler-lease");
    static final PostgresEndpoint DB = TestInfrastructure.postgres().withFreshDatabase("scheduler_lease");
    static final Duration LEASE_TTL = Duration.ofSeconds(2);
    static ConfigurableApplicationContext one;
    static ConfigurableApplicationContext two;

    @BeforeAll
    static void start() {
        String[] lease = {"gateway.scheduler.lease-ttl=2s", "gateway.scheduler.renew-interval=250ms"};
        one = Gateways.start(RABBIT, DB, lease[0], lease[1], "gateway.instance-id=gw-one");
        two = Gateways.start(RABBIT, DB, lease[0], lease[1], "gateway.instance-id=gw-two");
    }

    /** The database, through a gateway that still runs. */
    private static JdbcTemplate jdbc() {
        return (one.isActive() ? one : two).getBean(JdbcTemplate.class);
    }

    @AfterAll
    static void stop() {
        CompletableFuture.allOf(
                        CompletableFuture.runAsync(() -> one.close()), CompletableFuture.runAsync(() -> two.close()))
                .join();
    }

    private static boolean leads(ConfigurableApplicationContext gateway) {
        return gateway.isActive()
                && gateway.getBean(MeterRegistry.class)
                                .get("gpu.gateway.scheduler.leader")
                                .gauge()
                                .value()
                        == 1.0;
    }

    private static String newKey() {
        String raw = "lease-" + UUID.randomUUID();
        one.getBean(ApiKeys.class).ensure("lease", raw);
        return raw;
    }

    private static String newPool() {
        return "p" + UUID.randomUUID().toString().substring(0, 8);
    }

    /** A worker both gateways know. */
    private static TestWorker workerKnownToAll(String pool, List<ConfigurableApplicationContext> gateways) {
        TestWorker worker = TestWorker.in(RABBIT, pool).start();
        for (ConfigurableApplicationContext gateway : gateways) {
            await().atMost(Duration.ofSeconds(10))
                    .until(() -> gateway.getBean(WorkerDirectory.class)
                                    .available(pool)
                                    .size()
                            == 1);
        }
        return worker;
    }

    private static Map<String, Object> lease() {
        return jdbc().queryForMap("select holder, epoch, expires_at > now() as valid from scheduler_lease");
    }

    @Test
    @Order(1)
    void aGatewayWhoseLeaseWasTakenHandsOutNothingAndWhenTheLeaseIsFreeANewLeaderDoes() {
        String key = newKey();
        String pool = newPool();
        try (TestWorker gpu = workerKnownToAll(pool, List.of(one, two))) {
            await().atMost(Duration.ofSeconds(10)).until(() -> leads(one) != leads(two));
            Map<String, Object> before = lease();
            JobMoves.Lease leaders = new JobMoves.Lease((String) before.get("holder"), (Long) before.get("epoch"));

            jdbc().update("update scheduler_lease set holder = 'intruder', epoch = epoch + 1, "
                    + "expires_at = now() + interval '1 hour'");
            await().atMost(Duration.ofSeconds(10)).until(() -> !leads(one) && !leads(two));
            UUID id = new Api(Gateways.port(one))
                    .submit(key, Api.job(pool, "while nobody leads"))
                    .id();

            await().during(LEASE_TTL.plusMillis(500))
                    .atMost(Duration.ofSeconds(10))
                    .until(() -> jdbc().queryForObject(
                                    "select assigned_worker is null and attempt = 0 from job where id = ?",
                                    Boolean.class,
                                    id));
            // what the old leader's hand-out would do now: its lease is no longer the one in PostgreSQL
            assertThat(one.getBean(JobMoves.class).assign(id, gpu.id(), 5, leaders))
                    .isEmpty();
            assertThat(jdbc().queryForObject("select assigned_worker from job where id = ?", String.class, id))
                    .isNull();
            assertThat(gpu.received()).isEmpty();

            jdbc().update("update scheduler_lease set expires_at = now()");

            JobAttempt handedOut = gpu.next();
            assertThat(handedOut.jobId()).isEqualTo(id);
            assertThat(handedOut.attempt()).isEqualTo(1);
            Map<String, Object> after = lease();
            assertThat(after.get("holder")).isIn("gw-one", "gw-two");
            assertThat((Long) after.get("epoch"))
                    .as("a new holder, a new epoch")
                    .isGreaterThan(leaders.epoch() + 1);
            assertThat(leads(one) != leads(two)).isTrue();
            handedOut.succeed();
        }
    }

    @Test
    @Order(2)
    void whenTheLeaderStopsTheOtherGatewayTakesOverAtOnceAndHandsOut() {
        String key = newKey();
        String pool = newPool();
        try (TestWorker gpu = workerKnownToAll(pool, List.of(one, two))) {
            await().atMost(Duration.ofSeconds(10)).until(() -> leads(one) != leads(two));
            ConfigurableApplicationContext leader = leads(one) ? one : two;
            ConfigurableApplicationContext other = leader == one ? two : one;
            long epoch = (Long) lease().get("epoch");

            long stopped = System.nanoTime();
            leader.close();

            await().atMost(Duration.ofSeconds(10)).until(() -> leads(other));
            assertThat(Duration.ofNanos(System.nanoTime() - stopped))
                    .as("the lease was released on shutdown")
                    .isLessThan(Duration.ofSeconds(5));
            assertThat((Long) lease().get("epoch")).isEqualTo(epoch + 1);
            UUID id = new Api(Gateways.port(other))
                    .submit(key, Api.job(pool, "after the failover"))
                    .id();
            JobAttempt handedOut = gpu.next();
            assertThat(handedOut.jobId()).isEqualTo(id);
            handedOut.succeed();
            await().atMost(Duration.ofSeconds(10))
                    .until(() -> "SUCCEEDED"
                            .equals(jdbc().queryForObject("select status from job where id = ?", String.class, id)));
        }
    }
}
