package io.forgequeue.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.forgequeue.gateway.apikey.ApiKeys;
import io.forgequeue.testsupport.PostgresEndpoint;
import io.forgequeue.testsupport.RabbitEndpoint;
import io.forgequeue.testsupport.TestInfrastructure;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.jdbc.core.JdbcTemplate;
import tools.jackson.databind.JsonNode;

/**
 * The WebSocket relay is fire-and-forget; the reconcile ({@code SessionReconciler}) makes the delivery of every
 * change, above all a terminal state, certain anyway. Two gateway instances on a virtual host and database of this
 * class; a broker outage is the virtual host deleted and created again (every connection to it is closed).
 */
class RelayReconcileIT {

    static final RabbitEndpoint RABBIT = TestInfrastructure.rabbit().withFreshVirtualHost("relay-reconcile");
    static final PostgresEndpoint DB = TestInfrastructure.postgres().withFreshDatabase("relay_reconcile");
    static final Broker BROKER = new Broker(RABBIT);
    static ConfigurableApplicationContext gatewayA;
    static ConfigurableApplicationContext gatewayB;

    @BeforeAll
    static void start() {
        // the default reconcile interval (5 s) on gateway B, whose clients must be told
        gatewayA = Gateways.start(RABBIT, DB, "gateway.instance-id=gw-ra", "gateway.websocket.reconcile-interval=1s");
        gatewayB = Gateways.start(RABBIT, DB, "gateway.instance-id=gw-rb");
    }

    @AfterAll
    static void stop() {
        CompletableFuture.allOf(
                        CompletableFuture.runAsync(() -> gatewayA.close()),
                        CompletableFuture.runAsync(() -> gatewayB.close()))
                .join();
        BROKER.close();
    }

    private static String newKey() {
        String raw = "reconcile-" + UUID.randomUUID();
        gatewayB.getBean(ApiKeys.class).ensure("reconcile", raw);
        return raw;
    }

    /** 1 while the gateway holds a broker connection (its readiness does not depend on the broker). */
    private static double brokerConnected(Api gateway) {
        return PrometheusScrape.of(gateway).value("gpu_gateway_broker_connected");
    }

    private static boolean isUpdate(JsonNode frame, UUID id, String status) {
        return ("update".equals(frame.path("type").asString())
                        || "snapshot".equals(frame.path("type").asString()))
                && id.toString().equals(frame.path("job").path("id").asString())
                && status.equals(frame.path("job").path("status").asString());
    }

    @Test
    void aJobSubmittedAndCancelledOnOneGatewayWhileTheBrokerIsAwayReachesAnAllJobsClientOfTheOther() {
        String key = newKey();
        Api a = new Api(Gateways.port(gatewayA));
        try (WsClient ws = WsClient.authenticated(Gateways.port(gatewayB), key)) {
            ws.send("{\"type\":\"subscribe\",\"scope\":\"all\"}");
            ws.nextOfType("subscribed");

            BROKER.deleteVirtualHost();
            UUID id;
            try {
                await().atMost(Duration.ofSeconds(15))
                        .until(() -> brokerConnected(Gateways.management(gatewayA)) == 0.0);
                id = a.submit(key, Api.job("default", "created and cancelled while the broker is away"))
                        .id();
                Api.Response cancel = a.delete(key, "/api/v1/jobs/" + id);
                assertThat(cancel.status()).isEqualTo(200);
                assertThat(cancel.json().path("status").asString()).isEqualTo("CANCELLED");
            } finally {
                BROKER.createVirtualHost();
            }

            // the relay could carry neither change: the reconcile on gateway B finds the job in PostgreSQL
            JsonNode told = await().atMost(Duration.ofSeconds(30))
                    .until(
                            () -> ws.seen().stream()
                                    .filter(f -> isUpdate(f, id, "CANCELLED"))
                                    .findFirst()
                                    .orElse(null),
                            f -> f != null);
            assertThat(told.path("job").path("version").asLong())
                    .isEqualTo(a.get(key, "/api/v1/jobs/" + id)
                            .json()
                            .path("version")
                            .asLong());
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> brokerConnected(Gateways.management(gatewayB)) == 1.0);
    }

    @Test
    void aWatchedJobWhoseChangeNeverReachedTheRelayIsSentWithinTheReconcileIntervalAndOnlyToItsOwner() {
        String key = newKey();
        String otherKey = newKey();
        Api b = new Api(Gateways.port(gatewayB));
        UUID id = b.submit(key, Api.job("p" + UUID.randomUUID().toString().substring(0, 8), "changed behind the relay"))
                .id();
        JdbcTemplate jdbc = gatewayB.getBean(JdbcTemplate.class);
        try (WsClient one = WsClient.authenticated(Gateways.port(gatewayA), key);
                WsClient all = WsClient.authenticated(Gateways.port(gatewayA), key);
                WsClient stranger = WsClient.authenticated(Gateways.port(gatewayA), otherKey)) {
            one.subscribe(id);
            long before = one.nextOfType("snapshot").path("job").path("version").asLong();
            all.send("{\"type\":\"subscribe\",\"scope\":\"all\"}");
            all.nextOfType("subscribed");
            stranger.send("{\"type\":\"subscribe\",\"scope\":\"all\"}");
            stranger.nextOfType("subscribed");

            // a committed change that no gateway relayed (as if its relay message had been lost)
            jdbc.update(
                    "update job set status = 'CANCELLED', finished_at = now(), version = version + 1 where id = ?", id);

            JsonNode told = one.next(f -> isUpdate(f, id, "CANCELLED"));
            all.next(f -> isUpdate(f, id, "CANCELLED"));
            assertThat(told.path("job").path("version").asLong()).isEqualTo(before + 1);
            assertThat(stranger.seen()).noneMatch(f -> f.toString().contains(id.toString()));
        }
    }
}
