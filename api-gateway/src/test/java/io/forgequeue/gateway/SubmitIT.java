package io.forgequeue.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.forgequeue.model.Contract;
import io.forgequeue.model.JobMessage;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import tools.jackson.databind.JsonNode;

/** POST /api/v1/jobs: acceptance, tickets and positions, idempotency, the in-flight cap, and refusals. */
class SubmitIT extends IntegrationTestBase {

    @Test
    void acceptsAValidJobWithLocationTicketAndPositionAndHandsItToAWorkerOfItsPoolWhenOneIsThere() {
        String key = newKey();
        String pool = newPool();

        Api.Response response = api().submit(key, Api.job(pool, "a lighthouse at dusk"));

        assertThat(response.status()).isEqualTo(202);
        JsonNode job = response.json();
        assertThat(response.header("Location"))
                .isEqualTo("/api/v1/jobs/" + job.get("id").asString());
        assertThat(job.get("status").asString()).isEqualTo("QUEUED");
        assertThat(job.get("ticket").asLong()).isPositive();
        assertThat(job.get("position").asInt()).isEqualTo(1);
        assertThat(job.get("priority").asString()).isEqualTo("normal");
        assertThat(job.get("waiting").get("ahead").asInt()).isZero();
        assertThat(job.get("waiting").get("blocked").asString())
                .as("no worker in the pool yet")
                .contains("No GPU is connected");
        assertThat(job.get("spec").get("prompt").asString()).isEqualTo("a lighthouse at dusk");
        assertThat(job.get("spec").get("cfgScale").asDouble())
                .as("default applied")
                .isEqualTo(7.0);
        UUID id = response.id();
        assertThat(assignedWorker(id)).as("nobody to hand it to").isNull();

        TestWorker worker = worker(pool);
        JobAttempt received = worker.next();

        JobMessage sent = received.message();
        assertThat(sent.jobId()).isEqualTo(id);
        assertThat(sent.attempt()).as("the first assignment").isEqualTo(1);
        assertThat(sent.workerId()).isEqualTo(worker.id());
        assertThat(sent.ticket()).isEqualTo(job.get("ticket").asLong());
        assertThat(sent.pool()).isEqualTo(pool);
        assertThat(sent.spec().prompt()).isEqualTo("a lighthouse at dusk");
        assertThat(received.properties().getDeliveryMode()).isEqualTo(2);
        assertThat(received.properties().getHeaders()).containsEntry(Contract.VERSION_HEADER, Contract.VERSION);
        assertThat(assignment(id))
                .containsEntry("status", "QUEUED")
                .containsEntry("attempt", 1)
                .containsEntry("assigned_worker", worker.id());
        JsonNode assigned = api().get(key, "/api/v1/jobs/" + id).json();
        assertThat(assigned.get("position").asInt()).isEqualTo(1);
        assertThat(assigned.get("waiting").get("next").asBoolean())
                .as("assigned: it starts next")
                .isTrue();
        assertThat(assigned.get("waiting").has("blocked")).isFalse();
    }

    @Test
    void hundredParallelSubmissionsOfOneKeyGetUniqueGapFreeTicketsAndPositionsInTicketOrder() throws Exception {
        String key = newKey();
        String pool = newPool();
        ExecutorService clients = Executors.newFixedThreadPool(16);
        List<Future<Api.Response>> futures = new ArrayList<>();

        for (int i = 0; i < 100; i++) {
            int n = i;
            futures.add(clients.submit(() -> api().submit(key, Api.job(pool, "parallel " + n))));
        }
        List<JsonNode> jobs = new ArrayList<>();
        for (Future<Api.Response> f : futures) {
            Api.Response r = f.get();
            assertThat(r.status()).as(r.text()).isEqualTo(202);
            jobs.add(r.json());
        }
        clients.shutdown();

        awaitQueued(pool, 100); // positions come from the queue index, which learns of commits a moment later
        List<Long> tickets =
                jobs.stream().map(j -> j.get("ticket").asLong()).sorted().toList();
        assertThat(new HashSet<>(tickets)).hasSize(100);
        assertThat(tickets.get(99) - tickets.get(0)).as("gap-free").isEqualTo(99);
        jobs.sort(Comparator.comparingLong(j -> j.get("ticket").asLong()));
        for (int i = 0; i < jobs.size(); i++) {
            JsonNode now = api().get(
                            key, "/api/v1/jobs/" + jobs.get(i).get("id").asString())
                    .json();
            assertThat(now.get("position").asInt())
                    .as("position of the job with the %d. smallest ticket", i + 1)
                    .isEqualTo(i + 1);
            assertThat(now.get("waiting").get("ownAhead").asInt())
                    .as("all the jobs ahead are the key's own")
                    .isEqualTo(i);
        }
        assertThat(handOuts(pool))
                .as("no worker in the pool: nothing handed out")
                .isEmpty();
    }

    @Test
    void theSameIdempotencyKeyAndBodyReturnTheSameJobAndADifferentBodyIsRefused() {
        String key = newKey();
        String pool = newPool();
        String body = Api.job(pool, "idempotent");

        Api.Response first = api().post(key, "/api/v1/jobs", body, "Idempotency-Key", "order-17");
        Api.Response again = api().post(key, "/api/v1/jobs", body, "Idempotency-Key", "order-17");
        Api.Response other =
                api().post(key, "/api/v1/jobs", Api.job(pool, "something else"), "Idempotency-Key", "order-17");
        Api.Response otherKeySameIdempotencyKey =
                api().post(newKey(), "/api/v1/jobs", body, "Idempotency-Key", "order-17");

        assertThat(first.status()).isEqualTo(202);
        assertThat(first.header("Idempotent-Replayed")).isEqualTo("false");
        assertThat(again.status()).isEqualTo(202);
        assertThat(again.header("Idempotent-Replayed")).isEqualTo("true");
        assertThat(again.id()).isEqualTo(first.id());
        assertThat(other.status()).isEqualTo(422);
        assertThat(other.json().get("code").asString()).isEqualTo("idempotency-key-reused");
        assertThat(otherKeySameIdempotencyKey.status())
                .as("keys are per API key")
                .isEqualTo(202);
        assertThat(otherKeySameIdempotencyKey.id()).isNotEqualTo(first.id());
        assertThat(jdbc.queryForObject("select count(*) from job where pool = ?", Long.class, pool))
                .isEqualTo(2L);
    }

    @Test
    void refusesJobsOverTheInFlightCapWith429AndRetryAfterUntilOneFinishes() throws Exception {
        String key = newKey();
        String pool = newPool();
        ExecutorService clients = Executors.newFixedThreadPool(8);
        List<Future<Api.Response>> futures = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            futures.add(clients.submit(() -> api().submit(key, Api.job(pool, "fill"))));
        }
        UUID firstId = null;
        for (Future<Api.Response> f : futures) {
            assertThat(f.get().status()).isEqualTo(202);
            firstId = f.get().id();
        }
        clients.shutdown();

        Api.Response refused = api().submit(key, Api.job(pool, "one too many"));

        assertThat(refused.status()).isEqualTo(429);
        assertThat(refused.header("Retry-After")).isEqualTo("10");
        assertThat(refused.header("Content-Type")).startsWith("application/problem+json");
        JsonNode problem = refused.json();
        assertThat(problem.get("code").asString()).isEqualTo("too-many-jobs-in-flight");
        assertThat(problem.get("type").asString()).endsWith("/problems/too-many-jobs-in-flight");
        assertThat(problem.get("limit").asInt()).isEqualTo(100);
        assertThat(jdbc.queryForObject("select count(*) from job where pool = ?", Long.class, pool))
                .isEqualTo(100L);
        assertThat(api().submit(newKey(), Api.job(pool, "another key")).status())
                .as("the cap is per key")
                .isEqualTo(202);

        api().delete(key, "/api/v1/jobs/" + firstId);
        assertThat(api().submit(key, Api.job(pool, "room again")).status()).isEqualTo(202);
    }

    static Stream<Arguments> badSubmissions() {
        String tooLong = "x".repeat(2001);
        String huge = "y".repeat(70_000);
        return Stream.of(
                Arguments.of(
                        "malformed JSON", "{\"prompt\": \"x\",", "application/json", 400, "malformed-request", null),
                Arguments.of("a JSON array", "[1,2]", "application/json", 400, "malformed-request", null),
                Arguments.of("an empty body", "", "application/json", 400, "malformed-request", null),
                Arguments.of(
                        "a string for a number",
                        "{\"prompt\":\"x\",\"width\":\"wide\"}",
                        "application/json",
                        400,
                        "malformed-request",
                        "width"),
                Arguments.of(
                        "a number for the prompt",
                        "{\"prompt\":123}",
                        "application/json",
                        400,
                        "malformed-request",
                        "prompt"),
                Arguments.of(
                        "a boolean for the prompt",
                        "{\"prompt\":true}",
                        "application/json",
                        400,
                        "malformed-request",
                        "prompt"),
                Arguments.of(
                        "a number for the pool",
                        "{\"prompt\":\"x\",\"pool\":5}",
                        "application/json",
                        400,
                        "malformed-request",
                        "pool"),
                Arguments.of(
                        "a numeric string for a number",
                        "{\"prompt\":\"x\",\"width\":\"512\"}",
                        "application/json",
                        400,
                        "malformed-request",
                        "width"),
                Arguments.of(
                        "a fraction for an integer",
                        "{\"prompt\":\"x\",\"steps\":20.5}",
                        "application/json",
                        400,
                        "malformed-request",
                        "steps"),
                Arguments.of(
                        "an unknown field",
                        "{\"prompt\":\"x\",\"stpes\":20}",
                        "application/json",
                        400,
                        "malformed-request",
                        "stpes"),
                Arguments.of(
                        "a seed beyond a long",
                        "{\"prompt\":\"x\",\"seed\":123456789012345678901234}",
                        "application/json",
                        400,
                        "malformed-request",
                        "seed"),
                Arguments.of("no prompt", "{\"width\":512}", "application/json", 422, "validation-failed", "prompt"),
                Arguments.of(
                        "a prompt over the limit",
                        "{\"prompt\":\"" + tooLong + "\"}",
                        "application/json",
                        422,
                        "validation-failed",
                        "prompt"),
                Arguments.of(
                        "a width not a multiple of 8",
                        "{\"prompt\":\"x\",\"width\":500}",
                        "application/json",
                        422,
                        "validation-failed",
                        "width"),
                Arguments.of(
                        "too many steps",
                        "{\"prompt\":\"x\",\"steps\":500}",
                        "application/json",
                        422,
                        "validation-failed",
                        "steps"),
                Arguments.of(
                        "an invalid pool name",
                        "{\"prompt\":\"x\",\"pool\":\"Bad Pool!\"}",
                        "application/json",
                        422,
                        "validation-failed",
                        "pool"),
                Arguments.of(
                        "an unknown sampler",
                        "{\"prompt\":\"x\",\"sampler\":\"Made Up\"}",
                        "application/json",
                        422,
                        "validation-failed",
                        "sampler"),
                Arguments.of(
                        "too many pixels",
                        "{\"prompt\":\"x\",\"width\":2048,\"height\":2048,\"batchSize\":2}",
                        "application/json",
                        422,
                        "validation-failed",
                        "batchSize"),
                Arguments.of(
                        "a body over 64 KiB",
                        "{\"prompt\":\"" + huge + "\"}",
                        "application/json",
                        413,
                        "payload-too-large",
                        null),
                Arguments.of("a text body", "prompt=x", "text/plain", 415, "unsupported-media-type", null));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badSubmissions")
    void refusesBadInputWithAProblemAndStoresAndPublishesNothing(
            String what, String body, String contentType, int status, String code, String field) {
        String key = newKey();

        Api.Response response = api().send(key, "POST", "/api/v1/jobs", body, contentType);

        assertThat(response.status()).as(response.text()).isEqualTo(status);
        assertThat(response.header("Content-Type")).startsWith("application/problem+json");
        JsonNode problem = response.json();
        assertThat(problem.has("code")).as(response.text()).isTrue();
        assertThat(problem.get("code").asString()).isEqualTo(code);
        assertThat(problem.get("type").asString()).isEqualTo("https://forgequeue.io/problems/" + code);
        assertThat(problem.get("status").asInt()).isEqualTo(status);
        assertThat(response.text())
                .doesNotContain("Exception")
                .doesNotContain("at io.")
                .doesNotContain("select ");
        if (field != null) {
            List<String> fields = new ArrayList<>();
            problem.get("errors").forEach(e -> fields.add(e.get("field").asString()));
            assertThat(fields).contains(field);
        }
        UUID owner = apiKeys.authenticate(key).orElseThrow().keyId();
        assertThat(jdbc.queryForObject("select count(*) from job where owner_key_id = ?", Long.class, owner))
                .isZero();
    }

    @Test
    void anInvalidJobNamesEveryBadField() {
        Api.Response response = api().submit(
                        newKey(),
                        "{\"prompt\":\"\",\"width\":13,\"height\":9000,\"steps\":0,\"cfgScale\":99,\"seed\":-7,\"batchSize\":9}");

        assertThat(response.status()).isEqualTo(422);
        Set<String> fields = new HashSet<>();
        response.json().get("errors").forEach(e -> {
            fields.add(e.get("field").asString());
            assertThat(e.get("message").asString()).isNotBlank();
        });
        assertThat(fields).contains("prompt", "width", "height", "steps", "cfgScale", "seed", "batchSize");
    }

    @Test
    void requiresAnApiKeyAndHidesOtherKeysJobs() {
        String owner = newKey();
        UUID id = api().submit(owner, Api.job(newPool(), "mine")).id();
        String stranger = newKey();

        Api.Response noKey = api().get(null, "/api/v1/jobs/" + id);
        Api.Response wrongKey = api().get("not-a-key", "/api/v1/jobs/" + id);
        Api.Response strangerGet = api().get(stranger, "/api/v1/jobs/" + id);
        Api.Response strangerCancel = api().delete(stranger, "/api/v1/jobs/" + id);
        Api.Response strangerImage = api().get(stranger, "/api/v1/jobs/" + id + "/images/0");
        Api.Response unknown = api().get(stranger, "/api/v1/jobs/" + UUID.randomUUID());
        Api.Response malformed = api().get(stranger, "/api/v1/jobs/not-a-uuid");

        assertThat(noKey.status()).isEqualTo(401);
        assertThat(noKey.header("WWW-Authenticate")).startsWith("Bearer");
        assertThat(noKey.json().get("code").asString()).isEqualTo("unauthorized");
        assertThat(wrongKey.status()).isEqualTo(401);
        assertThat(strangerGet.status()).isEqualTo(404);
        assertThat(strangerGet.json().get("code").asString()).isEqualTo("job-not-found");
        assertThat(strangerCancel.status()).isEqualTo(404);
        assertThat(strangerImage.status()).isEqualTo(404);
        assertThat(unknown.status()).isEqualTo(404);
        assertThat(unknown.json().get("code").asString())
                .isEqualTo(strangerGet.json().get("code").asString());
        assertThat(malformed.status()).isEqualTo(404);
        assertThat(api().get(owner, "/api/v1/jobs/" + id).json().get("status").asString())
                .isEqualTo("QUEUED");
        assertThat(api().get(stranger, "/api/v1/jobs").json().get("items")).isEmpty();
    }

    @Test
    void listsOwnJobsNewestFirstWithStatusFilterAndCursorPaging() {
        String key = newKey();
        String pool = newPool();
        List<UUID> ids = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            ids.add(api().submit(key, Api.job(pool, "list " + i)).id());
        }
        api().delete(key, "/api/v1/jobs/" + ids.get(1));

        JsonNode page1 = api().get(key, "/api/v1/jobs?limit=2").json();
        JsonNode page2 = api().get(
                        key,
                        "/api/v1/jobs?limit=2&cursor=" + page1.get("nextCursor").asString())
                .json();
        JsonNode page3 = api().get(
                        key,
                        "/api/v1/jobs?limit=2&cursor=" + page2.get("nextCursor").asString())
                .json();
        JsonNode cancelled = api().get(key, "/api/v1/jobs?status=cancelled").json();
        Api.Response badStatus = api().get(key, "/api/v1/jobs?status=DONE");
        Api.Response badCursor = api().get(key, "/api/v1/jobs?cursor=zzz");

        List<String> order = new ArrayList<>();
        for (JsonNode page : List.of(page1, page2, page3)) {
            page.get("items").forEach(j -> order.add(j.get("id").asString()));
        }
        assertThat(order)
                .containsExactly(
                        ids.get(4).toString(),
                        ids.get(3).toString(),
                        ids.get(2).toString(),
                        ids.get(1).toString(),
                        ids.get(0).toString());
        assertThat(page3.has("nextCursor")).isFalse();
        assertThat(cancelled.get("items")).hasSize(1);
        assertThat(cancelled.get("items").get(0).get("id").asString())
                .isEqualTo(ids.get(1).toString());
        assertThat(badStatus.status()).isEqualTo(400);
        assertThat(badStatus.json().get("errors").get(0).get("field").asString())
                .isEqualTo("status");
        assertThat(badCursor.status()).isEqualTo(400);
    }

    @Test
    void answersUnknownPathsAndMethodsWithProblemsToo() {
        String key = newKey();

        Api.Response unknownPath = api().get(key, "/api/v1/nothing-here");
        Api.Response wrongMethod = api().send(key, "PUT", "/api/v1/jobs", "{}", "application/json");

        assertThat(unknownPath.status()).isEqualTo(404);
        assertThat(unknownPath.json().get("code").asString()).isEqualTo("not-found");
        assertThat(wrongMethod.status()).isEqualTo(405);
        assertThat(wrongMethod.json().get("code").asString()).isEqualTo("method-not-allowed");
    }

    @Test
    void servesTheOpenApiDocumentHealthProbesAndMetrics() {
        Api.Response doc = api().get(null, "/api/v1/openapi");
        Api.Response yaml = api().get(null, "/api/v1/openapi.yaml");
        api().submit(newKey(), Api.job(newPool(), "metrics"));

        assertThat(doc.status()).isEqualTo(200);
        assertThat(doc.json().get("paths").has("/api/v1/jobs")).isTrue();
        assertThat(doc.json().get("paths").has("/api/v1/jobs/{id}/images/{index}"))
                .isTrue();
        assertThat(yaml.status()).isEqualTo(200);
        assertThat(yaml.text()).contains("openapi:");
        assertThat(management()
                        .get(null, "/actuator/health/liveness")
                        .json()
                        .get("status")
                        .asString())
                .isEqualTo("UP");
        assertThat(management()
                        .get(null, "/actuator/health/readiness")
                        .json()
                        .get("status")
                        .asString())
                .isEqualTo("UP");
        String prometheus = management().get(null, "/actuator/prometheus").text();
        assertThat(prometheus)
                .contains("gpu_gateway_jobs_submitted_total")
                .contains("gpu_gateway_jobs_by_state")
                .contains("gpu_gateway_outbox_lag_seconds")
                .contains("application=\"api-gateway\"");
    }

    @Test
    void offersTheKnownSamplersAndTheLimitsToForms() {
        Api.Response options = api().get(newKey(), "/api/v1/options");

        assertThat(options.status()).isEqualTo(200);
        assertThat(options.json().get("samplers").toString()).isEqualTo("[\"Euler a\",\"DPM++ 2M\"]");
        assertThat(options.json().get("pools").get(0).asString()).isEqualTo("default");
        assertThat(options.json().get("limits").get("sizeMax").asInt()).isEqualTo(2048);
        assertThat(options.json().get("limits").get("defaultSteps").asInt()).isEqualTo(20);
        assertThat(api().get(null, "/api/v1/options").status()).isEqualTo(401);
    }
}
