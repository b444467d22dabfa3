package io.forgequeue.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.forgequeue.testsupport.PostgresEndpoint;
import io.forgequeue.testsupport.RabbitEndpoint;
import io.forgequeue.testsupport.TestInfrastructure;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;

/**
 * The admin API for API keys (issue 16): admin tokens only, create with a secret shown once and never stored or
 * logged, list, change limits (at once on the next request), disable (refused at once, WebSocket sessions closed
 * within a second on every gateway, queued jobs kept or cancelled), enable. Self-contained: its own gateway
 * context, virtual host and database, and no worker (so submitted jobs stay QUEUED).
 */
@SpringBootTest(
        classes = GatewayApplication.class,
        webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {
            "gateway.instance-id=it-admin",
            "gateway.admin.tokens=" + AdminApiIT.ADMIN_TOKEN + " , " + AdminApiIT.SECOND_ADMIN_TOKEN,
            "gateway.quotas.max-priority=normal",
            "gateway.websocket.auth-timeout=2s",
            "gateway.outbox.sweep-interval=200ms",
            // as verbose as an operator chasing a problem could make it: the secret must not show up anyway
            "logging.level.io.forgequeue=DEBUG",
            "logging.level.org.springframework.web=DEBUG",
            "logging.level.org.hibernate.SQL=DEBUG",
            "logging.level.org.hibernate.orm.jdbc.bind=TRACE"
        })
class AdminApiIT {

    static final String ADMIN_TOKEN = "admin-token-for-the-admin-api-it-0001";
    static final String SECOND_ADMIN_TOKEN = "admin-token-for-the-admin-api-it-0002";
    static final RabbitEndpoint RABBIT = TestInfrastructure.rabbit().withFreshVirtualHost("admin-it");
    static final PostgresEndpoint DB = TestInfrastructure.postgres().withFreshDatabase("admin_it");
    private static final String SECRET_FORMAT = "fq_[0-9A-Za-z]{32}";

    /** A second gateway on the same database and broker, without admin tokens; started by the test that needs it. */
    static ConfigurableApplicationContext otherGateway;

    @DynamicPropertySource
    static void infrastructure(DynamicPropertyRegistry registry) {
        TestInfrastructure.springProperties(RABBIT, DB).forEach((name, value) -> registry.add(name, () -> value));
    }

    @LocalServerPort
    int port;

    @Autowired
    JdbcTemplate jdbc;

    @AfterAll
    static void stopOtherGateway() {
        if (otherGateway != null) {
            otherGateway.close();
        }
    }

    @Test
    void createsAKeyWhoseSecretIsShownOnceAndNeverStoredOrLogged() {
        // every line logged meanwhile, at every level this test switched on (tests log to a file, not the console)
        ListAppender<ILoggingEvent> logged = new ListAppender<>();
        Logger root = (Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME);
        logged.start();
        root.addAppender(logged);
        Api.Response created = admin().post(
                        ADMIN_TOKEN,
                        "/api/v1/admin/keys",
                        "{\"name\":\"alice\",\"maxQueued\":3,\"weight\":2,\"maxPriority\":\"high\"}");
        String secret = created.json().path("secret").asString();
        UUID id = created.id();
        Api.Response read = admin().get(ADMIN_TOKEN, "/api/v1/admin/keys/" + id);
        Api.Response list = admin().get(ADMIN_TOKEN, "/api/v1/admin/keys?size=100");
        Api.Response submitted =
                admin().submit(secret, "{\"pool\":\"" + newPool() + "\",\"prompt\":\"admin\",\"priority\":\"high\"}");

        assertThat(created.status()).isEqualTo(201);
        assertThat(created.header("Location")).isEqualTo("/api/v1/admin/keys/" + id);
        assertThat(created.header("Cache-Control")).contains("no-store");
        assertThat(secret).matches(SECRET_FORMAT);
        assertThat(created.json().path("prefix").asString()).isEqualTo(secret.substring(0, 8));
        assertThat(created.json().path("limits").toString())
                .isEqualTo("{\"maxQueued\":3,\"maxRunning\":null,\"weight\":2.0,\"maxPriority\":\"high\"}");
        assertThat(created.json().path("effective").path("maxRunning").asInt()).isZero();
        assertThat(read.status()).isEqualTo(200);
        assertThat(read.json().has("secret")).isFalse();
        assertThat(read.text()).doesNotContain(secret);
        assertThat(read.json().path("name").asString()).isEqualTo("alice");
        assertThat(read.json().path("disabled").asBoolean()).isFalse();
        assertThat(list.text()).contains(id.toString()).doesNotContain(secret);
        // a key allowed high may submit high
        assertThat(submitted.status()).as(submitted.text()).isEqualTo(202);
        // stored: its hash and its first characters, never the secret
        assertThat(jdbc.queryForObject("select key_hash from api_key where id = ?", byte[].class, id))
                .isEqualTo(sha256(secret));
        assertThat(jdbc.queryForList("select row_to_json(k)::text from api_key k", String.class))
                .isNotEmpty()
                .noneMatch(row -> row.contains(secret.substring(8)));
        // logged: the creation (so the capture works), never the secret
        root.detachAppender(logged);
        List<String> lines =
                logged.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
        assertThat(lines)
                .anyMatch(line -> line.contains("ApiKey(id=" + id + ") created"))
                .noneMatch(line -> line.contains(secret.substring(3)));
    }

    @Test
    void onlyAnAdminTokenOpensTheAdminApiAndItIsNoApiKey() {
        String userKey = newKeySecret("user");

        Api.Response none = admin().get(null, "/api/v1/admin/keys");
        Api.Response wrong = admin().get("admin-token-that-is-not-configured-0000", "/api/v1/admin/keys");
        Api.Response withUserKey = admin().post(userKey, "/api/v1/admin/keys", "{\"name\":\"mallory\"}");
        Api.Response second = admin().get(SECOND_ADMIN_TOKEN, "/api/v1/admin/keys");
        Api.Response adminSubmits = admin().submit(ADMIN_TOKEN, Api.job(newPool(), "admin"));
        Api.Response adminReadsJobs = admin().get(ADMIN_TOKEN, "/api/v1/jobs");

        assertThat(none.status()).isEqualTo(401);
        assertThat(none.json().path("code").asString()).isEqualTo("admin-unauthorized");
        assertThat(none.header("WWW-Authenticate")).startsWith("Bearer");
        assertThat(none.header("Content-Type")).startsWith("application/problem+json");
        assertThat(wrong.status()).isEqualTo(401);
        assertThat(wrong.json().path("code").asString()).isEqualTo("admin-unauthorized");
        assertThat(withUserKey.status()).isEqualTo(403);
        assertThat(withUserKey.json().path("code").asString()).isEqualTo("admin-forbidden");
        assertThat(second.status()).isEqualTo(200);
        assertThat(adminSubmits.status()).isEqualTo(401);
        assertThat(adminSubmits.json().path("code").asString()).isEqualTo("unauthorized");
        assertThat(adminReadsJobs.status()).isEqualTo(401);
        assertThat(jdbc.queryForObject("select count(*) from api_key where name = 'mallory'", Long.class))
                .isZero();
    }

    @Test
    void refusesBadSettingsWithProblemDetailsNamingEachField() {
        UUID id = admin().post(ADMIN_TOKEN, "/api/v1/admin/keys", "{\"name\":\"bounds\"}")
                .id();

        Api.Response noName = admin().post(ADMIN_TOKEN, "/api/v1/admin/keys", "{\"maxQueued\":1}");
        Api.Response outOfBounds = admin().post(ADMIN_TOKEN, "/api/v1/admin/keys", """
                {"name":"x","maxQueued":-1,"maxRunning":0,"weight":1000.5,"maxPriority":"urgent"}""");
        Api.Response wrongType =
                admin().post(ADMIN_TOKEN, "/api/v1/admin/keys", "{\"name\":\"x\",\"maxQueued\":\"5\"}");
        Api.Response unknownField = admin().post(ADMIN_TOKEN, "/api/v1/admin/keys", "{\"name\":\"x\",\"admin\":true}");
        Api.Response zeroWeight = patch(id, "{\"weight\":0}");
        Api.Response nullName = patch(id, "{\"name\":null,\"maxRunning\":\"2\",\"colour\":1}");
        Api.Response notAnObject = patch(id, "[1]");
        Api.Response unknownKey = admin().get(ADMIN_TOKEN, "/api/v1/admin/keys/" + UUID.randomUUID());
        Api.Response malformedId = admin().get(ADMIN_TOKEN, "/api/v1/admin/keys/not-a-uuid");
        Api.Response unknownDisable =
                admin().post(ADMIN_TOKEN, "/api/v1/admin/keys/" + UUID.randomUUID() + "/disable", null);
        Api.Response badPage = admin().get(ADMIN_TOKEN, "/api/v1/admin/keys?size=0");

        assertThat(noName.status()).isEqualTo(422);
        assertThat(noName.json().path("code").asString()).isEqualTo("invalid-key-settings");
        assertThat(fields(noName)).containsExactly("name");
        assertThat(outOfBounds.status()).isEqualTo(422);
        assertThat(fields(outOfBounds)).containsExactly("maxQueued", "maxRunning", "weight", "maxPriority");
        assertThat(wrongType.status()).isEqualTo(400);
        assertThat(fields(wrongType)).containsExactly("maxQueued");
        assertThat(unknownField.status()).isEqualTo(400);
        assertThat(fields(unknownField)).containsExactly("admin");
        assertThat(zeroWeight.status()).isEqualTo(422);
        assertThat(fields(zeroWeight)).containsExactly("weight");
        assertThat(nullName.status()).isEqualTo(400);
        assertThat(fields(nullName)).containsExactlyInAnyOrder("colour", "name", "maxRunning");
        assertThat(notAnObject.status()).isEqualTo(400);
        assertThat(unknownKey.status()).isEqualTo(404);
        assertThat(unknownKey.json().path("code").asString()).isEqualTo("key-not-found");
        assertThat(malformedId.status()).isEqualTo(404);
        assertThat(malformedId.json().path("code").asString()).isEqualTo("key-not-found");
        assertThat(unknownDisable.status()).isEqualTo(404);
        assertThat(badPage.status()).isEqualTo(400);
        assertThat(badPage.json().path("code").asString()).isEqualTo("invalid-parameter");
        // nothing of the refused changes was stored
        assertThat(admin().get(ADMIN_TOKEN, "/api/v1/admin/keys/" + id)
                        .json()
                        .path("limits")
                        .path("weight")
                        .isNull())
                .isTrue();
    }

    @Test
    void changedLimitsApplyToTheNextRequestAndNullPutsTheDefaultBack() {
        Api.Response created = admin().post(ADMIN_TOKEN, "/api/v1/admin/keys", "{\"name\":\"bob\",\"maxQueued\":1}");
        String secret = created.json().path("secret").asString();
        UUID id = created.id();
        String pool = newPool();
        assertThat(admin().submit(secret, Api.job(pool, "first")).status()).isEqualTo(202);
        Api.Response overQueued = admin().submit(secret, Api.job(pool, "second"));
        Api.Response high =
                admin().submit(secret, "{\"pool\":\"" + pool + "\",\"prompt\":\"hi\",\"priority\":\"high\"}");

        Api.Response changed = patch(id, "{\"name\":\"bobby\",\"maxQueued\":2,\"maxPriority\":\"high\"}");
        Api.Response highNow =
                admin().submit(secret, "{\"pool\":\"" + pool + "\",\"prompt\":\"hi\",\"priority\":\"high\"}");
        Api.Response thirdNow = admin().submit(secret, Api.job(pool, "third"));
        Api.Response reset = patch(id, "{\"maxQueued\":null,\"maxPriority\":null}");

        assertThat(overQueued.status()).isEqualTo(429);
        assertThat(high.status()).isEqualTo(403);
        assertThat(high.json().path("code").asString()).isEqualTo("priority-not-allowed");
        assertThat(changed.status()).isEqualTo(200);
        assertThat(changed.json().path("name").asString()).isEqualTo("bobby");
        assertThat(changed.json().path("limits").path("maxQueued").asInt()).isEqualTo(2);
        assertThat(changed.json().path("limits").path("maxPriority").asString()).isEqualTo("high");
        assertThat(highNow.status()).as(highNow.text()).isEqualTo(202);
        assertThat(thirdNow.status())
                .as("the new cap of 2 queued jobs is reached")
                .isEqualTo(429);
        assertThat(reset.status()).isEqualTo(200);
        assertThat(reset.json().path("name").asString())
                .as("left out: unchanged")
                .isEqualTo("bobby");
        assertThat(reset.json().path("limits").path("maxQueued").isNull()).isTrue();
        assertThat(reset.json().path("limits").path("maxPriority").isNull()).isTrue();
        assertThat(reset.json().path("effective").path("maxQueued").asInt())
                .as("gateway.quotas.max-queued")
                .isEqualTo(50);
        assertThat(reset.json().path("effective").path("maxPriority").asString())
                .isEqualTo("normal");
        assertThat(jdbc.queryForObject("select max_queued from api_key where id = ?", Integer.class, id))
                .isNull();
    }

    @Test
    void aDisabledKeyIsRefusedAtOnceAndItsWebSocketClosesWithinOneSecond() {
        Api.Response created = admin().post(ADMIN_TOKEN, "/api/v1/admin/keys", "{\"name\":\"carol\"}");
        String secret = created.json().path("secret").asString();
        String bystander = newKeySecret("dave");
        try (WsClient carol = WsClient.authenticated(port, secret);
                WsClient dave = WsClient.authenticated(port, bystander)) {
            carol.send("{\"type\":\"subscribe\",\"scope\":\"all\"}");
            carol.nextOfType("subscribed");

            long start = System.nanoTime();
            Api.Response disabled = admin().post(ADMIN_TOKEN, "/api/v1/admin/keys/" + created.id() + "/disable", null);
            long answered = System.nanoTime(); // the key was disabled (committed) before the answer left
            int code = carol.closeCode(5);
            Duration closedAfter = Duration.ofNanos(System.nanoTime() - answered);
            Api.Response refused = admin().get(secret, "/api/v1/jobs");

            assertThat(disabled.status()).isEqualTo(200);
            assertThat(disabled.json().path("key").path("disabled").asBoolean()).isTrue();
            assertThat(disabled.json().path("cancelledJobs").asInt()).isZero();
            assertThat(code).isEqualTo(4401);
            assertThat(carol.seen()).last().satisfies(f -> {
                assertThat(f.path("type").asString()).isEqualTo("error");
                assertThat(f.path("code").asString()).isEqualTo("key-disabled");
            });
            System.out.printf(
                    "AdminApiIT: the disable request took %d ms; the WebSocket closed at most %d ms after "
                            + "its answer%n",
                    Duration.ofNanos(answered - start).toMillis(), closedAfter.toMillis());
            assertThat(closedAfter).as("from the disable to the close").isLessThan(Duration.ofSeconds(1));
            assertThat(refused.status()).isEqualTo(401);
            // another key's session is untouched
            dave.send("{\"type\":\"ping\"}");
            assertThat(dave.nextOfType("pong")).isNotNull();
        }
        Api.Response enabled = admin().post(ADMIN_TOKEN, "/api/v1/admin/keys/" + created.id() + "/enable", null);
        assertThat(enabled.status()).isEqualTo(200);
        assertThat(enabled.json().path("disabled").asBoolean()).isFalse();
        assertThat(admin().get(secret, "/api/v1/jobs").status())
                .as("the same secret works again at once")
                .isEqualTo(200);
    }

    @Test
    void aKeyDisabledOnOneGatewayLosesItsWebSocketOnAnotherWithinOneSecond() {
        ConfigurableApplicationContext other = otherGateway();
        int otherPort = Gateways.port(other);
        Api.Response created = admin().post(ADMIN_TOKEN, "/api/v1/admin/keys", "{\"name\":\"erin\"}");
        String secret = created.json().path("secret").asString();
        Api.Response adminThere = new Api(otherPort).get(ADMIN_TOKEN, "/api/v1/admin/keys");
        try (WsClient erin = WsClient.withHeader(otherPort, secret)) {
            erin.nextOfType("authenticated");
            assertThat(new Api(otherPort).get(secret, "/api/v1/jobs").status())
                    .as("cached there now")
                    .isEqualTo(200);

            long start = System.nanoTime();
            Api.Response disabled = admin().post(ADMIN_TOKEN, "/api/v1/admin/keys/" + created.id() + "/disable", null);
            long answered = System.nanoTime();
            int code = erin.closeCode(5);
            Duration closedAfter = Duration.ofNanos(System.nanoTime() - answered);

            assertThat(disabled.status()).isEqualTo(200);
            assertThat(code).isEqualTo(4401);
            System.out.printf(
                    "AdminApiIT: the disable request took %d ms; on the other gateway the WebSocket closed "
                            + "at most %d ms after its answer%n",
                    Duration.ofNanos(answered - start).toMillis(), closedAfter.toMillis());
            assertThat(closedAfter).as("from the disable to the close").isLessThan(Duration.ofSeconds(1));
            // its cache was dropped by the notification, not by the time-to-live (60 s)
            assertThat(new Api(otherPort).get(secret, "/api/v1/jobs").status()).isEqualTo(401);
        }
        assertThat(adminThere.status()).as("no admin token configured there").isEqualTo(403);
        assertThat(adminThere.json().path("code").asString()).isEqualTo("admin-api-disabled");
    }

    @Test
    void disablingWithCancelQueuedCancelsTheKeysQueuedJobsOnly() {
        Api.Response created = admin().post(ADMIN_TOKEN, "/api/v1/admin/keys", "{\"name\":\"frank\"}");
        String secret = created.json().path("secret").asString();
        String other = newKeySecret("grace");
        String pool = newPool();
        List<UUID> frankJobs = submit(secret, pool, 3);
        List<UUID> graceJobs = submit(other, pool, 2);

        Api.Response disabled =
                admin().post(ADMIN_TOKEN, "/api/v1/admin/keys/" + created.id() + "/disable?cancelQueued=true", null);

        assertThat(disabled.status()).isEqualTo(200);
        assertThat(disabled.json().path("cancelledJobs").asInt()).isEqualTo(3);
        for (UUID job : frankJobs) {
            assertThat(status(job)).isEqualTo("CANCELLED");
            assertThat(jdbc.queryForObject(
                            "select reason from job_state_history where job_id = ? and to_status = " + "'CANCELLED'",
                            String.class,
                            job))
                    .contains("disabled");
            assertThat(jdbc.queryForObject(
                            "select count(*) from outbox where job_id = ? and kind = 'CANCEL'", Long.class, job))
                    .isEqualTo(1);
        }
        for (UUID job : graceJobs) {
            assertThat(status(job)).isEqualTo("QUEUED");
        }
    }

    @Test
    void disablingWithoutCancelQueuedKeepsTheQueuedJobs() {
        Api.Response created = admin().post(ADMIN_TOKEN, "/api/v1/admin/keys", "{\"name\":\"heidi\"}");
        List<UUID> jobs = submit(created.json().path("secret").asString(), newPool(), 2);

        Api.Response disabled =
                admin().post(ADMIN_TOKEN, "/api/v1/admin/keys/" + created.id() + "/disable?cancelQueued=false", null);

        assertThat(disabled.status()).isEqualTo(200);
        assertThat(disabled.json().path("cancelledJobs").asInt()).isZero();
        for (UUID job : jobs) {
            assertThat(status(job)).isEqualTo("QUEUED");
        }
    }

    @Test
    void listsKeysNewestFirstInPages() {
        UUID older = admin().post(ADMIN_TOKEN, "/api/v1/admin/keys", "{\"name\":\"page-1\"}")
                .id();
        UUID newer = admin().post(ADMIN_TOKEN, "/api/v1/admin/keys", "{\"name\":\"page-2\"}")
                .id();

        Api.Response first = admin().get(ADMIN_TOKEN, "/api/v1/admin/keys?page=0&size=1");
        Api.Response second = admin().get(ADMIN_TOKEN, "/api/v1/admin/keys?page=1&size=1");

        assertThat(first.status()).isEqualTo(200);
        assertThat(first.json().path("items").get(0).path("id").asString()).isEqualTo(newer.toString());
        assertThat(second.json().path("items").get(0).path("id").asString()).isEqualTo(older.toString());
        assertThat(first.json().path("totalItems").asLong()).isGreaterThanOrEqualTo(2);
        assertThat(first.json().path("totalPages").asLong())
                .isEqualTo(first.json().path("totalItems").asLong());
    }

    @Test
    void theOpenApiDocumentDescribesTheAdminApiWithItsOwnCredential() {
        JsonNode doc = admin().get(null, "/api/v1/openapi").json();

        assertThat(doc.path("paths").has("/api/v1/admin/keys")).isTrue();
        assertThat(doc.path("paths").has("/api/v1/admin/keys/{id}")).isTrue();
        assertThat(doc.path("paths").has("/api/v1/admin/keys/{id}/disable")).isTrue();
        assertThat(doc.path("paths").has("/api/v1/admin/keys/{id}/enable")).isTrue();
        assertThat(doc.path("components").path("securitySchemes").has("adminToken"))
                .isTrue();
        assertThat(doc.path("paths")
                        .path("/api/v1/admin/keys")
                        .path("post")
                        .path("security")
                        .toString())
                .contains("adminToken")
                .doesNotContain("apiKey");
        assertThat(doc.path("paths")
                        .path("/api/v1/admin/keys/{id}")
                        .path("patch")
                        .path("requestBody")
                        .path("content")
                        .has("application/merge-patch+json"))
                .isTrue();
    }

    private Api admin() {
        return new Api(port);
    }

    private Api.Response patch(UUID id, String body) {
        return admin().send(ADMIN_TOKEN, "PATCH", "/api/v1/admin/keys/" + id, body, "application/merge-patch+json");
    }

    /** A key made through the admin API; its secret. */
    private String newKeySecret(String name) {
        Api.Response created = admin().post(ADMIN_TOKEN, "/api/v1/admin/keys", "{\"name\":\"" + name + "\"}");
        assertThat(created.status()).isEqualTo(201);
        return created.json().path("secret").asString();
    }

    private List<UUID> submit(String key, String pool, int count) {
        List<UUID> ids = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            Api.Response r = admin().submit(key, Api.job(pool, "job " + i));
            assertThat(r.status()).as(r.text()).isEqualTo(202);
            ids.add(r.id());
        }
        return ids;
    }

    /** A pool of its own: no worker serves it, so its jobs stay QUEUED. */
    private static String newPool() {
        return "admin-" + UUID.randomUUID().toString().substring(0, 8);
    }

    private String status(UUID job) {
        return jdbc.queryForObject("select status from job where id = ?", String.class, job);
    }

    private static List<String> fields(Api.Response problem) {
        List<String> out = new ArrayList<>();
        problem.json().path("errors").forEach(e -> out.add(e.path("field").asString()));
        return out;
    }

    private static synchronized ConfigurableApplicationContext otherGateway() {
        if (otherGateway == null) {
            otherGateway = Gateways.start(RABBIT, DB, "gateway.instance-id=it-admin-b", "gateway.admin.tokens=");
        }
        return otherGateway;
    }

    private static byte[] sha256(String text) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
