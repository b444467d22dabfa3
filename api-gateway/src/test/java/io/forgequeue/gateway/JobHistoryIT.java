package io.forgequeue.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.forgequeue.gateway.quota.Priority;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * What a person does with the history of their jobs (issue 18): hide a finished job and show it again, search by
 * prompt, cancel every waiting job at once; and what the key may use ({@code GET /api/v1/me}).
 */
class JobHistoryIT extends IntegrationTestBase {

    @Test
    void aHiddenFinishedJobLeavesTheListUntilAskedForAndComesBackWhenShownAgain() {
        String key = newKey();
        String pool = newPool();
        UUID kept = api().submit(key, Api.job(pool, "kept")).id();
        UUID hidden = api().submit(key, Api.job(pool, "to hide")).id();
        api().delete(key, "/api/v1/jobs/" + hidden);

        Api.Response hide = api().send(key, "PUT", "/api/v1/jobs/" + hidden + "/hidden", null, "application/json");
        Api.Response again = api().send(key, "PUT", "/api/v1/jobs/" + hidden + "/hidden", null, "application/json");

        assertThat(hide.status()).isEqualTo(200);
        assertThat(hide.json().get("hiddenAt").asString()).isNotBlank();
        assertThat(again.status()).as("idempotent").isEqualTo(200);
        assertThat(again.json().get("version").asLong())
                .as("a repeated hide changes nothing")
                .isEqualTo(hide.json().get("version").asLong());
        assertThat(ids(api().get(key, "/api/v1/jobs").json())).containsExactly(kept);
        assertThat(ids(api().get(key, "/api/v1/jobs?hidden=true").json())).containsExactly(hidden, kept);
        assertThat(api().get(key, "/api/v1/jobs/" + hidden).json().get("hiddenAt"))
                .as("still readable by id")
                .isNotNull();

        Api.Response shown = api().send(key, "DELETE", "/api/v1/jobs/" + hidden + "/hidden", null, "application/json");

        assertThat(shown.status()).isEqualTo(200);
        assertThat(shown.json().has("hiddenAt")).isFalse();
        assertThat(ids(api().get(key, "/api/v1/jobs").json())).containsExactly(hidden, kept);
    }

    @Test
    void aJobThatHasNotFinishedCannotBeHiddenAndAnotherKeysJobIsNotFound() {
        String key = newKey();
        String other = newKey();
        UUID waiting = api().submit(key, Api.job(newPool(), "still waiting")).id();

        Api.Response refused = api().send(key, "PUT", "/api/v1/jobs/" + waiting + "/hidden", null, "application/json");
        Api.Response foreign =
                api().send(other, "PUT", "/api/v1/jobs/" + waiting + "/hidden", null, "application/json");

        assertThat(refused.status()).isEqualTo(409);
        assertThat(refused.json().get("code").asString()).isEqualTo("job-not-finished");
        assertThat(refused.json().get("detail").asString()).contains("cancel it first");
        assertThat(foreign.status()).isEqualTo(404);
        assertThat(api().get(key, "/api/v1/jobs/" + waiting).json().has("hiddenAt"))
                .isFalse();
    }

    @Test
    void searchFindsTheOwnersJobsWhosePromptContainsTheTextIgnoringCaseAndTakesWildcardsLiterally() {
        String key = newKey();
        String other = newKey();
        String pool = newPool();
        UUID red = api().submit(key, Api.job(pool, "a Red lighthouse at dusk")).id();
        api().submit(key, Api.job(pool, "a blue harbour"));
        UUID fox = api().submit(key, Api.job(pool, "RED fox, 100% detail")).id();
        api().submit(other, Api.job(pool, "a red barn of another key"));

        List<UUID> reds = ids(api().get(key, "/api/v1/jobs?q=" + encode("red")).json());
        List<UUID> percent =
                ids(api().get(key, "/api/v1/jobs?q=" + encode("0%")).json());
        List<UUID> underscore =
                ids(api().get(key, "/api/v1/jobs?q=" + encode("_")).json());
        List<UUID> queuedReds = ids(api().get(key, "/api/v1/jobs?status=QUEUED&q=" + encode(" red "))
                .json());
        Api.Response tooLong = api().get(key, "/api/v1/jobs?q=" + "x".repeat(201));

        assertThat(reds).containsExactly(fox, red);
        assertThat(percent).containsExactly(fox);
        assertThat(underscore).isEmpty();
        assertThat(queuedReds).as("trimmed, combined with the status filter").containsExactly(fox, red);
        assertThat(tooLong.status()).isEqualTo(400);
    }

    @Test
    void cancelWaitingCancelsEveryWaitingJobOfTheCallerAndNoOneElses() {
        String key = newKey();
        String other = newKey();
        String pool = newPool();
        List<UUID> mine = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            mine.add(api().submit(key, Api.job(pool, "mine " + i)).id());
        }
        UUID theirs = api().submit(other, Api.job(pool, "theirs")).id();

        Api.Response cancelled = api().post(key, "/api/v1/jobs/cancel-waiting", null);
        Api.Response nothingLeft = api().post(key, "/api/v1/jobs/cancel-waiting", null);

        assertThat(cancelled.status()).isEqualTo(200);
        assertThat(cancelled.json().get("cancelled").asInt()).isEqualTo(3);
        assertThat(nothingLeft.json().get("cancelled").asInt()).isZero();
        for (UUID id : mine) {
            assertThat(api().get(key, "/api/v1/jobs/" + id).json().get("status").asString())
                    .isEqualTo("CANCELLED");
        }
        assertThat(api().get(other, "/api/v1/jobs/" + theirs)
                        .json()
                        .get("status")
                        .asString())
                .isEqualTo("QUEUED");
    }

    /**
     * A batch of hand-outs locks its rows in decision order. A cancel that held some of a key's rows while it waited
     * for another (the batch's) locked in another order, and PostgreSQL failed one of the two with a deadlock: the
     * owner saw an error. The test's transaction stands in for the batch: it holds the middle job, the cancel takes
     * the others and commits them without waiting, then cancels the held one once it is released.
     */
    @Test
    void cancelWaitingNeverHoldsTheJobsItTookWhileAnotherTransactionHoldsOneOfThem() throws Exception {
        String key = newKey();
        String pool = newPool(); // no worker: the jobs stay waiting
        List<UUID> mine = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            mine.add(api().submit(key, Api.job(pool, "held " + i)).id());
        }
        CompletableFuture<Api.Response> cancelling;
        try (Connection batch = jdbc.getDataSource().getConnection()) {
            batch.setAutoCommit(false);
            try (Statement st = batch.createStatement()) {
                st.execute("set local lock_timeout = '5s'");
            }
            lockRow(batch, mine.get(1));

            cancelling = CompletableFuture.supplyAsync(() -> api().post(key, "/api/v1/jobs/cancel-waiting", null));
            await().atMost(Duration.ofSeconds(10))
                    .until(() -> status(mine.get(0)).equals("CANCELLED")
                            && status(mine.get(2)).equals("CANCELLED"));
            // what the batch would lock next is free: no cycle of waits
            lockRow(batch, mine.get(2));
            assertThat(status(mine.get(1))).isEqualTo("QUEUED");
            assertThat(cancelling).as("waits for the held job").isNotDone();
            batch.commit();
        }

        Api.Response cancelled = cancelling.get(30, TimeUnit.SECONDS);
        assertThat(cancelled.status()).isEqualTo(200);
        assertThat(cancelled.json().get("cancelled").asInt()).isEqualTo(3);
        assertThat(mine).allSatisfy(id -> assertThat(status(id)).isEqualTo("CANCELLED"));
    }

    private static void lockRow(Connection connection, UUID jobId) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement("select id from job where id = ? for update")) {
            ps.setObject(1, jobId);
            ps.executeQuery().close();
        }
    }

    private String status(UUID jobId) {
        return jdbc.queryForObject("select status from job where id = ?", String.class, jobId);
    }

    @Test
    void meTellsTheKeysNameAndLimitsAndOffersExactlyThePrioritiesASubmissionAccepts() {
        String key =
                newKey(TestKeys.Limits.defaults().maxQueued(7).maxRunning(2).maxPriority(Priority.NORMAL));
        String pool = newPool();

        JsonNode me = api().get(key, "/api/v1/me").json();

        assertThat(me.get("name").asString()).startsWith("key-");
        assertThat(me.get("quota").get("maxQueued").asInt()).isEqualTo(7);
        assertThat(me.get("quota").get("maxRunning").asInt()).isEqualTo(2);
        assertThat(me.get("quota").get("maxPriority").asString()).isEqualTo("normal");
        assertThat(me.toString()).doesNotContain(key);
        List<String> offered = new ArrayList<>();
        me.get("priorities").forEach(p -> offered.add(p.asString()));
        assertThat(offered).containsExactly("normal", "low");
        for (String priority : List.of("high", "normal", "low")) {
            String body = Api.job(pool, "priority " + priority).replace("}", ",\"priority\":\"" + priority + "\"}");
            assertThat(api().submit(key, body).status()).as(priority).isEqualTo(offered.contains(priority) ? 202 : 403);
        }
    }

    @Test
    void theOpenApiDocumentDescribesHistorySearchCancelWaitingAndMe() {
        JsonNode paths = api().get(null, "/api/v1/openapi").json().get("paths");

        assertThat(paths.get("/api/v1/jobs/{id}/hidden").has("put")).isTrue();
        assertThat(paths.get("/api/v1/jobs/{id}/hidden").has("delete")).isTrue();
        assertThat(paths.get("/api/v1/jobs/cancel-waiting").has("post")).isTrue();
        assertThat(paths.get("/api/v1/me").has("get")).isTrue();
        List<String> listParameters = new ArrayList<>();
        paths.get("/api/v1/jobs")
                .get("get")
                .get("parameters")
                .forEach(p -> listParameters.add(p.get("name").asString()));
        assertThat(listParameters).contains("q", "hidden", "status", "limit", "cursor");
    }

    private static List<UUID> ids(JsonNode page) {
        List<UUID> ids = new ArrayList<>();
        page.get("items").forEach(j -> ids.add(UUID.fromString(j.get("id").asString())));
        return ids;
    }

    private static String encode(String text) {
        return URLEncoder.encode(text, StandardCharsets.UTF_8);
    }
}
