package io.forgequeue.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.forgequeue.gateway.apikey.ApiKeys;
import io.forgequeue.gateway.fleet.WorkerDirectory;
import io.forgequeue.testsupport.PostgresEndpoint;
import io.forgequeue.testsupport.RabbitEndpoint;
import io.forgequeue.testsupport.TestInfrastructure;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.jdbc.core.JdbcTemplate;

/**
 * Outages, on a private virtual host and database of this class (the shared test broker keeps running for
 * everyone else). PostgreSQL is the queue of record: jobs submitted while the broker is away wait there and are
 * handed out once a worker can be reached again. A broker outage is simulated by deleting the gateway's virtual host (RabbitMQ closes every
 * connection to it and refuses new ones) and creating it again, empty; a database outage by dropping the
 * gateway's database.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class OutageIT {

    static final RabbitEndpoint RABBIT = TestInfrastructure.rabbit().withFreshVirtualHost("outage");
    static final PostgresEndpoint DB = TestInfrastructure.postgres().withFreshDatabase("outage");
    static final Broker BROKER = new Broker(RABBIT);
    static ConfigurableApplicationContext gateway;
    static Api api;
    static Api management;
    static String key;

    @BeforeAll
    static void start() {
        gateway = Gateways.start(RABBIT, DB, "gateway.instance-id=gw-outage");
        api = new Api(Gateways.port(gateway));
        management = Gateways.management(gateway);
        key = "outage-" + UUID.randomUUID();
        gateway.getBean(ApiKeys.class).ensure("outage", key);
    }

    @AfterAll
    static void stop() {
        gateway.close();
        BROKER.close();
    }

    /** The gauge operators watch: 1 while the gateway holds a broker connection. */
    private static double brokerConnected() {
        return PrometheusScrape.of(management).value("gpu_gateway_broker_connected");
    }

    // Issue 15: readiness used to include the broker, so every gateway left the load balancer while it was away.
    @Test
    @Order(1)
    void whileTheBrokerIsDownTheGatewayStaysReadyAndAcceptsJobsThatAreHandedOutWhenItIsBack() {
        assertThat(management.get(null, "/actuator/health/readiness").status()).isEqualTo(200);
        assertThat(brokerConnected()).isEqualTo(1.0);
        String pool = "outage";
        JdbcTemplate jdbc = gateway.getBean(JdbcTemplate.class);
        TestWorker before = TestWorker.in(RABBIT, pool).start();
        await().atMost(Duration.ofSeconds(10))
                .until(() ->
                        gateway.getBean(WorkerDirectory.class).available(pool).size() == 1);

        BROKER.deleteVirtualHost();
        before.close(); // its connection went with the virtual host
        await().atMost(Duration.ofSeconds(15)).until(() -> brokerConnected() == 0.0);
        Api.Response health = await().atMost(Duration.ofSeconds(15))
                .until(
                        () -> management.get(null, "/actuator/health"),
                        h -> "DOWN"
                                .equals(h.json()
                                        .path("components")
                                        .path("rabbit")
                                        .path("status")
                                        .asString()));
        Api.Response readiness = management.get(null, "/actuator/health/readiness");
        Api.Response accepted = api.submit(key, Api.job(pool, "during the outage"));
        UUID id = accepted.id();

        assertThat(readiness.status()).as(readiness.text()).isEqualTo(200);
        assertThat(readiness.json().path("status").asString()).isEqualTo("UP");
        assertThat(health.json().path("components").path("db").path("status").asString())
                .isEqualTo("UP");
        assertThat(health.json().path("components").path("rabbit").has("details"))
                .as("no broker details")
                .isFalse();
        assertThat(accepted.status()).isEqualTo(202);
        // the worker is silent now: once it counts as lost, nobody holds the job (an earlier hand-out could not be
        // sent and was taken back)
        await().atMost(Duration.ofSeconds(15))
                .until(() ->
                        gateway.getBean(WorkerDirectory.class).available(pool).isEmpty());
        await().during(Duration.ofMillis(600))
                .atMost(Duration.ofSeconds(10))
                .until(() -> jdbc.queryForObject(
                        "select status = 'QUEUED' and assigned_worker is null from job where id = ?",
                        Boolean.class,
                        id));

        BROKER.createVirtualHost();

        // until the gateway has declared the exchanges again, a worker does not start (it waits for them, as the
        // real one does): keep trying
        TestWorker after = await().atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(250))
                .ignoreExceptions()
                .until(() -> TestWorker.in(RABBIT, pool).start(), w -> w != null);
        try {
            JobAttempt handedOut = after.next();
            assertThat(handedOut.jobId()).isEqualTo(id);
            assertThat(handedOut.attempt())
                    .as("the outage used up at most the one hand-out that could not be sent")
                    .isLessThanOrEqualTo(2);
            handedOut.succeed();
            await().atMost(Duration.ofSeconds(10))
                    .until(() -> "SUCCEEDED"
                            .equals(api.get(key, "/api/v1/jobs/" + id)
                                    .json()
                                    .get("status")
                                    .asString()));
        } finally {
            after.close();
        }
        await().atMost(Duration.ofSeconds(15)).until(() -> brokerConnected() == 1.0);
        await().atMost(Duration.ofSeconds(15))
                .until(() -> "UP"
                        .equals(management
                                .get(null, "/actuator/health")
                                .json()
                                .path("components")
                                .path("rabbit")
                                .path("status")
                                .asString()));
    }

    @Test
    @Order(2)
    void anUnreachableDatabaseIsAnswered503WithAProblemAndNoTrace() throws Exception {
        try (Connection admin = TestInfrastructure.postgres().connect();
                Statement sql = admin.createStatement()) {
            sql.execute("DROP DATABASE \"" + DB.database() + "\" WITH (FORCE)");
        }

        Api.Response submit = api.submit(key, Api.job("default", "no database"));
        Api.Response keyedSubmit = api.post(
                key,
                "/api/v1/jobs",
                Api.job("default", "no database, keyed"),
                "Idempotency-Key",
                "no-database-1"); // opens a transaction: CannotCreateTransactionException
        Api.Response list = api.get(key, "/api/v1/jobs");

        for (Api.Response response : new Api.Response[] {submit, keyedSubmit, list}) {
            assertThat(response.status()).as(response.text()).isEqualTo(503);
            assertThat(response.header("Content-Type")).startsWith("application/problem+json");
            assertThat(response.json().get("code").asString()).isEqualTo("service-unavailable");
            assertThat(response.header("Retry-After")).isNotBlank();
            assertThat(response.text())
                    .doesNotContainIgnoringCase("exception")
                    .doesNotContain("SQL")
                    .doesNotContain("at org.")
                    .doesNotContain("database \"");
        }
        assertThat(management.get(null, "/actuator/health/readiness").status()).isEqualTo(503);
    }
}
