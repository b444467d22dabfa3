package io.forgequeue.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.forgequeue.gateway.apikey.ApiKeys;
import io.forgequeue.testsupport.PostgresEndpoint;
import io.forgequeue.testsupport.RabbitEndpoint;
import io.forgequeue.testsupport.TestInfrastructure;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.jdbc.core.JdbcTemplate;

/**
 * A submission's answer is decided by its commit alone: no statement after the commit may turn a stored job into an
 * error answer. Reliability scenario 4 found one: the submission committed without waiting for the WAL flush and
 * flushed afterwards; PostgreSQL stopped in between, the client was answered 503 ("nothing was stored") for a
 * stored job, and its retry without an Idempotency-Key stored it twice. The window cannot be hit on purpose with a
 * real stop, so this class's database refuses the flush the gateway's other moves make after their commits (a
 * function of that name earlier on the search path than {@code pg_catalog} throws): a submission must still be
 * answered 202 and stored once.
 */
class SubmitCommitIT {

    static final RabbitEndpoint RABBIT = TestInfrastructure.rabbit().withFreshVirtualHost("submit-commit");
    static final PostgresEndpoint DB = TestInfrastructure.postgres().withFreshDatabase("submit_commit");
    static ConfigurableApplicationContext gateway;
    static Api api;
    static String key;
    static JdbcTemplate jdbc;

    @BeforeAll
    static void start() throws SQLException {
        try (Connection c = DB.connect();
                Statement s = c.createStatement()) {
            s.execute("create schema refusing");
            s.execute("""
                    create function refusing.pg_logical_emit_message(boolean, text, text) returns pg_lsn
                        language plpgsql as $$
                    begin
                        raise exception 'this test refuses the flush after a commit';
                    end
                    $$""");
            // tables stay in public; the refusing function comes before pg_catalog's
            s.execute("alter database " + DB.database() + " set search_path = public, refusing, pg_catalog");
        }
        gateway = Gateways.start(RABBIT, DB, "gateway.instance-id=gw-submit-commit");
        api = new Api(Gateways.port(gateway));
        key = "submit-commit-" + UUID.randomUUID();
        gateway.getBean(ApiKeys.class).ensure("submit-commit", key);
        jdbc = gateway.getBean(JdbcTemplate.class);
    }

    @AfterAll
    static void stop() {
        if (gateway != null) {
            gateway.close();
        }
    }

    @Test
    void theGatewaysConnectionsReachTheRefusingFlush() {
        assertThatThrownBy(() -> jdbc.queryForObject(
                        "select pg_logical_emit_message(true, 'forgequeue', 'flush')::text", String.class))
                .hasMessageContaining("refuses the flush");
    }

    @Test
    void aSubmissionWithoutIdempotencyKeyIsAnsweredByItsCommitAndStoredOnce() {
        Api.Response answer = api.submit(key, Api.job("submit-commit", "stored once without a key"));

        assertThat(answer.status()).as(answer.text()).isEqualTo(202);
        assertThat(rowsWithPrompt("stored once without a key")).isEqualTo(1);
    }

    @Test
    void aSubmissionWithAnIdempotencyKeyIsAnsweredByItsCommitAndReplayedFromIt() {
        String body = Api.job("submit-commit", "stored once with a key");

        Api.Response first = api.post(key, "/api/v1/jobs", body, "Idempotency-Key", "commit-it-1");
        Api.Response again = api.post(key, "/api/v1/jobs", body, "Idempotency-Key", "commit-it-1");

        assertThat(first.status()).as(first.text()).isEqualTo(202);
        assertThat(again.status()).as(again.text()).isEqualTo(202);
        assertThat(again.header("Idempotent-Replayed")).isEqualTo("true");
        assertThat(again.id()).isEqualTo(first.id());
        assertThat(rowsWithPrompt("stored once with a key")).isEqualTo(1);
    }

    private static long rowsWithPrompt(String prompt) {
        return jdbc.queryForObject("select count(*) from job where spec->>'prompt' = ?", Long.class, prompt);
    }
}
