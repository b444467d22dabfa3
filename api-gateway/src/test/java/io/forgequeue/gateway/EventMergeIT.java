package io.forgequeue.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.rabbitmq.client.GetResponse;
import io.forgequeue.model.CancelJobCommand;
import io.forgequeue.model.ErrorCode;
import io.forgequeue.model.JobEvent;
import io.forgequeue.model.Topology;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * Status events published to forge.events exactly as a worker would, merged into PostgreSQL; the fencing of events
 * by their assignment (attempt and worker); and cancel. Every job is handed out by the scheduler to a
 * {@link TestWorker} of the test's pool, whose events carry that assignment.
 */
class EventMergeIT extends IntegrationTestBase {

    private static final String ROW = """
            select status, progress, attempt, last_seq, worker_id, error_code, error_message, metadata::text as metadata,
                   images::text as images, started_at, finished_at,
                   (select count(*) from job_image i where i.job_id = job.id) as image_rows
            from job where id = ?""";

    private JsonNode job(String key, UUID id) {
        return api().get(key, "/api/v1/jobs/" + id).json();
    }

    private Map<String, Object> row(UUID id) {
        return jdbc.queryForMap(ROW, id);
    }

    private long version(UUID id) {
        return jdbc.queryForObject("select version from job where id = ?", Long.class, id);
    }

    @Test
    void eventsPublishedLikeAWorkerTakeTheJobToSucceededWithImages() {
        String key = newKey();
        String pool = newPool();
        TestWorker gpu = worker(pool);
        UUID id = api().submit(key, Api.job(pool, "events")).id();
        JobAttempt worker = gpu.next();
        JobEvent running = worker.running();
        JobEvent progress = worker.progress(50);
        JobEvent heartbeat = worker.heartbeat();
        JobEvent succeeded = worker.succeeded(2);

        worker.publish(running, progress, heartbeat, succeeded);

        JsonNode done = await().atMost(Duration.ofSeconds(10))
                .until(
                        () -> job(key, id),
                        j -> "SUCCEEDED".equals(j.get("status").asString()));
        assertThat(worker.jobId()).isEqualTo(id);
        assertThat(done.get("progress").asInt()).isEqualTo(100);
        assertThat(done.get("attempt").asInt()).isEqualTo(1);
        assertThat(done.has("workerId"))
                .as("the worker is the operators' business")
                .isFalse();
        assertThat(row(id).get("worker_id")).isEqualTo(gpu.id());
        assertThat(assignedWorker(id)).as("its GPU slot is free again").isNull();
        assertThat(java.time.Instant.parse(done.get("startedAt").asString())).isEqualTo(running.occurredAt());
        assertThat(java.time.Instant.parse(done.get("finishedAt").asString())).isEqualTo(succeeded.occurredAt());
        assertThat(done.has("position")).isFalse();
        assertThat(done.has("waiting")).isFalse();
        assertThat(done.get("metadata").get("seed").asInt()).isEqualTo(42);
        JsonNode stored = JobAttempt.WIRE.readTree((String) row(id).get("metadata"));
        assertThat(stored.get("forgeUrl").asString()).isEqualTo("http://127.0.0.1:7861");
        assertThat(stored.get("seed").asInt()).isEqualTo(42);
        assertThat(stored.get("worker").get("version").asString())
                .as("deep merge keeps nested fields")
                .isEqualTo("1.0");
        assertThat(stored.get("worker").get("forgeMillis").asInt()).isEqualTo(1234);
        assertThat(done.get("images")).hasSize(2);
        String url = done.get("images").get(1).get("url").asString();
        assertThat(url).isEqualTo("/api/v1/jobs/" + id + "/images/1");

        Api.Response image = api().get(key, url);
        assertThat(image.status()).isEqualTo(200);
        assertThat(image.header("Content-Type")).isEqualTo("image/png");
        assertThat(image.header("Cache-Control"))
                .contains("immutable")
                .contains("private")
                .contains("max-age=31536000");
        assertThat(image.raw().body()).hasSize(JobAttempt.PNG.length).endsWith((byte) '1');
        String etag = image.header("ETag");
        assertThat(etag).isNotBlank();
        Api.Response again = api().get(key, url, "If-None-Match", etag);
        assertThat(again.status()).isEqualTo(304);
        assertThat(api().get(key, "/api/v1/jobs/" + id + "/images/2").status()).isEqualTo(404);
        // Four consumers merge concurrently, so RUNNING may be merged after SUCCEEDED (then it only fills in the
        // start time): the history records the transitions as applied.
        List<String> history = history(id);
        assertThat(history.get(0)).startsWith(">QUEUED#0");
        assertThat(history.get(1)).isEqualTo("QUEUED>QUEUED#1@" + gpu.id() + ": assigned");
        assertThat(history.get(history.size() - 1)).contains(">SUCCEEDED#1@" + gpu.id());
    }

    // Issue 15: job views carried the worker's id, its Forge URL and version, Forge's raw error text and exception
    // class names.
    @Test
    void aJobShowsItsOwnerWhatTheGenerationUsedButNoWorkerAndNoInternalsOverRestOrWebSocket() {
        String key = newKey();
        String pool = newPool();
        TestWorker gpu = aWorker(pool)
                .id("gpu-internal-7f-" + UUID.randomUUID().toString().substring(0, 4))
                .start();
        UUID id = api().submit(key, Api.job(pool, "internals")).id();
        JobAttempt worker = gpu.next();
        Map<String, Object> started =
                Map.of("forgeUrl", "http://10.20.30.40:7860", "pool", pool, "workerVersion", "0.1.0-internal");
        // whatever a worker sends: what Forge reported, and technical details of the failure
        Map<String, Object> failure = Map.of(
                "seed",
                1234,
                "sdModelName",
                "flux1-dev",
                "sampler",
                "Euler a",
                "forgeVersion",
                "f2.0.1-internal",
                "forgeMillis",
                4321,
                "httpStatus",
                500,
                "forgeError",
                "NansException",
                "forgeMessage",
                "NaNs in /opt/forge/modules/processing.py",
                "exception",
                "java.lang.IllegalStateException",
                "addedByANewerWorker",
                "internal");

        JsonNode failedFrame;
        try (WsClient ws = WsClient.authenticated(port, key)) {
            ws.subscribe(id);
            ws.nextOfType("snapshot");
            worker.publish(
                    worker.running(started),
                    worker.failed(ErrorCode.NO_IMAGES, ErrorCode.NO_IMAGES.defaultMessage(), failure));
            // both events merged (RUNNING may come second and only fill in its facts): the last version of the job
            long last = await().atMost(Duration.ofSeconds(10)).until(() -> versionWithBothEvents(id), v -> v > 0);
            failedFrame =
                    ws.next(f -> id.toString().equals(f.path("job").path("id").asString())
                            && f.path("job").path("version").asLong() == last);
            ws.seen().forEach(f -> assertShowsNoInternals(f.toString()));
        }
        JsonNode job = api().get(key, "/api/v1/jobs/" + id).json();
        JsonNode list = api().get(key, "/api/v1/jobs?limit=100").json();

        for (JsonNode shown : List.of(failedFrame.get("job"), job)) {
            assertThat(shown.get("error").get("code").asString()).isEqualTo("NO_IMAGES");
            assertThat(shown.get("error").get("message").asString()).isEqualTo(ErrorCode.NO_IMAGES.defaultMessage());
            assertThat(shown.get("metadata").get("seed").asInt()).isEqualTo(1234);
            assertThat(shown.get("metadata").get("sdModelName").asString()).isEqualTo("flux1-dev");
            assertThat(shown.get("metadata").get("sampler").asString()).isEqualTo("Euler a");
            assertThat(shown.has("workerId")).isFalse();
        }
        assertShowsNoInternals(job.toString());
        assertShowsNoInternals(list.toString());
        JsonNode stored = JobAttempt.WIRE.readTree((String) row(id).get("metadata"));
        assertThat(stored.get("forgeUrl").asString()).as("kept for operators").isEqualTo("http://10.20.30.40:7860");
        assertThat(stored.get("forgeError").asString()).isEqualTo("NansException");
        assertThat(stored.get("exception").asString()).isEqualTo("java.lang.IllegalStateException");
        assertThat(row(id).get("worker_id")).isEqualTo(gpu.id());
    }

    /** The job's version once its RUNNING and FAILED events are both merged, else -1. */
    private long versionWithBothEvents(UUID id) {
        Map<String, Object> job =
                jdbc.queryForMap("select status, metadata::text as metadata, version from job " + "where id = ?", id);
        boolean both = "FAILED".equals(job.get("status")) && ((String) job.get("metadata")).contains("forgeUrl");
        return both ? ((Number) job.get("version")).longValue() : -1;
    }

    private static void assertShowsNoInternals(String json) {
        assertThat(json)
                .doesNotContain(
                        "gpu-internal-7f",
                        "workerId",
                        "forgeUrl",
                        "10.20.30.40",
                        "workerVersion",
                        "0.1.0-internal",
                        "forgeVersion",
                        "forgeMillis",
                        "httpStatus",
                        "forgeError",
                        "NansException",
                        "forgeMessage",
                        "/opt/forge",
                        "exception",
                        "java.lang",
                        "addedByANewerWorker");
    }

    private static JsonNode poolOf(JsonNode queue, String pool) {
        for (JsonNode p : queue.get("pools")) {
            if (pool.equals(p.get("pool").asString())) {
                return p;
            }
        }
        return null;
    }

    /** {@code pool} as {@code GET /api/v1/queue} shows it to {@code key}, once it is there and {@code ready}. */
    private JsonNode awaitPool(String key, String pool, java.util.function.Predicate<JsonNode> ready) {
        return await().atMost(Duration.ofSeconds(10))
                .until(() -> poolOf(api().get(key, "/api/v1/queue").json(), pool), p -> p != null && ready.test(p));
    }

    @Test
    void thePoolsJobTimeLeavesOutTheCheckpointLoadsItsWorkersReported() {
        String key = newKey();
        String pool = newPool();
        TestWorker gpu = worker(pool);
        api().submit(key, Api.job(pool, "switched"));
        JobAttempt switched = gpu.next();
        switched.publish(
                switched.running(), switched.succeededAfter(Duration.ofSeconds(10), Map.of("loadMillis", 8000)));
        api().submit(key, Api.job(pool, "warm"));
        JobAttempt warm = gpu.next();
        warm.publish(warm.running(), warm.succeededAfter(Duration.ofSeconds(2), Map.of("forgeMillis", 2000)));

        JsonNode mine = awaitPool(key, pool, p -> p.path("samples").asInt() == 2);

        assertThat(mine.get("meanJobSeconds").asDouble())
                .as("2 s of generation each; the 8 s load of the switch is no part of the job time (10 s + 2 s before)")
                .isCloseTo(2.0, org.assertj.core.api.Assertions.within(0.01));
    }

    // A fresh Forge loads its first checkpoint during its first call; the worker, not knowing its speed yet, cannot
    // say how long, and that call counted as a slow job (the mixed-fleet benchmark's mean started at 3.5-3.8 s for
    // jobs of 2.5 s; on a real GPU the first load is 5-100 s).
    @Test
    void aCallWhoseLoadTheWorkerCouldNotSplitCountsInThePoolsJobTimeOnlyWhileNoOtherDoes() {
        String key = newKey();
        String pool = newPool();
        TestWorker gpu = worker(pool);
        api().submit(key, Api.job(pool, "first call"));
        JobAttempt first = gpu.next();
        first.publish(first.running(), first.succeededAfter(Duration.ofSeconds(12), Map.of("loadUnsplit", true)));

        JsonNode alone = awaitPool(key, pool, p -> p.path("samples").asInt() == 1);
        assertThat(alone.get("meanJobSeconds").asDouble())
                .as("the only job time there is: better than none")
                .isCloseTo(12.0, org.assertj.core.api.Assertions.within(0.01));

        api().submit(key, Api.job(pool, "second call"));
        JobAttempt second = gpu.next();
        second.publish(second.running(), second.succeededAfter(Duration.ofSeconds(2), Map.of("forgeMillis", 2000)));

        JsonNode both = awaitPool(key, pool, p -> p.path("meanJobSeconds").asDouble() < 11);
        assertThat(both.get("samples").asInt()).isEqualTo(1);
        assertThat(both.get("meanJobSeconds").asDouble())
                .as("the second call's 2 s alone (7 s with the first)")
                .isCloseTo(2.0, org.assertj.core.api.Assertions.within(0.01));
    }

    @Test
    void theQueueOverviewAndEtaReflectTheAvailableWorkersAndRecentJobTimesOfThePool() {
        String key = newKey();
        String pool = newPool();
        TestWorker gpu = worker(pool);
        for (int i = 0; i < 2; i++) {
            api().submit(key, Api.job(pool, "history " + i));
            JobAttempt done = gpu.next();
            done.publish(done.running(), done.progress(50), done.succeeded(1));
        }
        UUID running = api().submit(key, Api.job(pool, "running")).id();
        JobAttempt busy = gpu.next();
        busy.publish(busy.running());
        UUID next = api().submit(key, Api.job(pool, "next")).id();
        UUID waiting = api().submit(key, Api.job(pool, "waiting")).id();

        JsonNode mine = awaitPool(
                key,
                pool,
                p -> p.path("samples").asInt() == 2
                        && p.get("running").asInt() == 1
                        && p.get("depth").asInt() == 2);
        assertThat(busy.jobId()).isEqualTo(running);
        assertThat(assignedWorker(next)).as("the worker's lookahead").isEqualTo(gpu.id());
        assertThat(assignedWorker(waiting)).as("the worker has no free slot").isNull();
        assertThat(mine.get("availableWorkers").asInt()).isEqualTo(1);
        assertThat(mine.get("pausedWorkers").asInt()).isZero();
        assertThat(mine.get("meanJobSeconds").asDouble()).isPositive();
        assertThat(mine.get("own").get("queued").asInt())
                .as("waiting for a GPU")
                .isEqualTo(1);
        assertThat(mine.get("own").get("running").asInt())
                .as("holding the worker's two slots")
                .isEqualTo(2);
        assertThat(mine.get("own").get("fairShare").asDouble()).isEqualTo(1.0);
        JsonNode job = api().get(key, "/api/v1/jobs/" + waiting).json();
        assertThat(job.get("position").asInt()).as("behind the assigned job").isEqualTo(2);
        assertThat(job.get("eta"))
                .as("position 2 with history and an available worker has an ETA")
                .isNotNull();
        assertThat(job.get("eta").get("seconds").asDouble()).isPositive();
        assertThat(api().get(null, "/api/v1/queue").status()).isEqualTo(401);
    }

    @Test
    void duplicatedAndShuffledEventsEndInTheSameRowAsInOrderDelivery() {
        String key = newKey();
        String pool = newPool();
        TestWorker gpu = worker(pool);
        UUID reference = api().submit(key, Api.job(pool, "in order")).id();
        java.time.Instant start = java.time.Instant.now().truncatedTo(java.time.temporal.ChronoUnit.MILLIS);
        JobAttempt inOrder = gpu.next().clockAt(start);
        List<JobEvent> events = List.of(
                inOrder.running(),
                inOrder.progress(10),
                inOrder.progress(40),
                inOrder.heartbeat(),
                inOrder.progress(80),
                inOrder.succeeded(1));
        for (JobEvent event : events) {
            long before = version(reference);
            inOrder.publish(event);
            await().atMost(Duration.ofSeconds(10)).until(() -> version(reference) > before);
        }
        Map<String, Object> expected = row(reference);
        assertThat(expected.get("status")).isEqualTo("SUCCEEDED");

        Random random = new Random(7);
        for (int round = 0; round < 4; round++) {
            UUID id = api().submit(key, Api.job(pool, "shuffled " + round)).id();
            JobAttempt shuffled = gpu.next().clockAt(start);
            assertThat(shuffled.jobId()).isEqualTo(id);
            List<JobEvent> same = List.of(
                    shuffled.running(),
                    shuffled.progress(10),
                    shuffled.progress(40),
                    shuffled.heartbeat(),
                    shuffled.progress(80),
                    shuffled.succeeded(1));
            List<JobEvent> delivery = new ArrayList<>(same);
            delivery.addAll(same);
            delivery.add(same.get(0));
            Collections.shuffle(delivery, random);

            shuffled.publish(delivery);

            await().atMost(Duration.ofSeconds(10))
                    .untilAsserted(() -> assertThat(row(id)).isEqualTo(expected));
            await().during(Duration.ofMillis(300))
                    .atMost(Duration.ofSeconds(3))
                    .untilAsserted(() -> assertThat(row(id)).isEqualTo(expected));
        }
        assertThat(counter("gpu.gateway.events.rejected", "reason", "duplicate"))
                .isPositive();
    }

    @Test
    void aFailedJobKeepsItsErrorAndRejectsLaterEventsAsTerminal() {
        String key = newKey();
        String pool = newPool();
        TestWorker gpu = worker(pool);
        UUID id = api().submit(key, Api.job(pool, "will fail")).id();
        JobAttempt worker = gpu.next();
        worker.publish(worker.running(), worker.failed(ErrorCode.FORGE_OUT_OF_MEMORY));
        JsonNode failed = await().atMost(Duration.ofSeconds(10))
                .until(() -> job(key, id), j -> "FAILED".equals(j.get("status").asString()));
        double terminalBefore = counter("gpu.gateway.events.rejected", "reason", "terminal");
        long versionBefore = version(id);

        worker.publish(worker.progress(90), worker.succeeded(1));

        await().atMost(Duration.ofSeconds(10))
                .until(() -> counter("gpu.gateway.events.rejected", "reason", "terminal") >= terminalBefore + 2);
        assertThat(failed.get("error").get("code").asString()).isEqualTo("FORGE_OUT_OF_MEMORY");
        assertThat(failed.get("error").get("message").asString())
                .isEqualTo(ErrorCode.FORGE_OUT_OF_MEMORY.defaultMessage());
        assertThat(failed.get("error").get("retryable").asBoolean()).isTrue();
        assertThat(version(id)).isEqualTo(versionBefore);
        assertThat(job(key, id).get("status").asString()).isEqualTo("FAILED");
    }

    private double rejected(String reason) {
        return counter("gpu.gateway.events.rejected", "reason", reason);
    }

    @Test
    void eventsOfAnOlderAttemptChangeNothingOnceTheJobWasGivenBackAndHandedOutAgain() {
        String key = newKey();
        String pool = newPool();
        TestWorker first = worker(pool);
        UUID id = api().submit(key, Api.job(pool, "given back")).id();
        JobAttempt attempt1 = first.next();
        attempt1.publish(attempt1.running(), attempt1.progress(30));
        await().atMost(Duration.ofSeconds(10))
                .until(() -> job(key, id).get("progress").asInt() == 30);
        // as the real worker when its Forge fails: it pauses, then gives the job back
        first.pause();
        await().atMost(Duration.ofSeconds(10))
                .until(() -> !fleet.isAvailable(fleet.get(first.id()).orElseThrow()));
        attempt1.publish(attempt1.requeued());
        JsonNode requeued = await().atMost(Duration.ofSeconds(10))
                .until(
                        () -> job(key, id),
                        j -> "QUEUED".equals(j.get("status").asString())
                                && j.get("progress").asInt() == 0);
        assertThat(requeued.get("attempt").asInt()).isEqualTo(1);
        assertThat(requeued.get("position").asInt()).isEqualTo(1);
        assertThat(assignedWorker(id)).as("given back: no worker holds it").isNull();

        TestWorker second = worker(pool);
        JobAttempt attempt2 = second.next();
        assertThat(attempt2.jobId()).isEqualTo(id);
        assertThat(attempt2.attempt()).isEqualTo(2);
        attempt2.publish(attempt2.running(), attempt2.progress(60));
        await().atMost(Duration.ofSeconds(10))
                .until(() -> job(key, id).get("progress").asInt() == 60);
        double staleBefore = rejected("stale-attempt");
        long versionBefore = version(id);

        attempt1.publish(attempt1.progress(99));

        await().atMost(Duration.ofSeconds(10)).until(() -> rejected("stale-attempt") > staleBefore);
        assertThat(version(id)).isEqualTo(versionBefore);
        attempt2.publish(attempt2.succeeded(1));
        JsonNode done = await().atMost(Duration.ofSeconds(10))
                .until(
                        () -> job(key, id),
                        j -> "SUCCEEDED".equals(j.get("status").asString()));
        assertThat(done.get("attempt").asInt()).isEqualTo(2);
        assertThat(row(id).get("worker_id")).isEqualTo(second.id());
        assertThat(jdbc.queryForList(
                        "select from_status || '>' || to_status || '#' || attempt from job_state_history "
                                + "where job_id = ? and from_status is not null order by id",
                        String.class,
                        id))
                .containsExactly(
                        "QUEUED>QUEUED#1",
                        "QUEUED>RUNNING#1",
                        "RUNNING>QUEUED#1",
                        "QUEUED>QUEUED#2",
                        "QUEUED>RUNNING#2",
                        "RUNNING>SUCCEEDED#2");
    }

    @Test
    void theLateOutcomeOfALostWorkerChangesNothingAndItIsToldToStopTheAttemptItStillRuns() {
        String key = newKey();
        String pool = newPool();
        TestWorker lost = worker(pool);
        UUID id = api().submit(key, Api.job(pool, "outlived its worker")).id();
        JobAttempt old = lost.next();
        old.publish(old.running(), old.progress(20));
        await().atMost(Duration.ofSeconds(10))
                .until(() -> "RUNNING".equals(job(key, id).get("status").asString()));

        lost.stopAnnouncing();
        await().atMost(Duration.ofSeconds(15)).until(() -> assignedWorker(id) == null);
        double revokedBefore = rejected("revoked");
        long versionBefore = version(id);
        old.publish(old.succeeded(1));
        await().atMost(Duration.ofSeconds(10)).until(() -> rejected("revoked") > revokedBefore);
        assertThat(version(id)).as("its outcome of a taken-back assignment").isEqualTo(versionBefore);
        JsonNode waiting = job(key, id);
        assertThat(waiting.get("status").asString()).isEqualTo("QUEUED");
        assertThat(waiting.has("images")).isFalse();
        assertThat(history(id))
                .anyMatch(h -> h.startsWith("RUNNING>QUEUED#1@" + lost.id() + ": worker " + lost.id() + " lost"));

        TestWorker other = worker(pool);
        JobAttempt now = other.next();
        assertThat(now.attempt()).isEqualTo(2);
        now.publish(now.running(), now.succeeded(2));
        await().atMost(Duration.ofSeconds(10))
                .until(() -> "SUCCEEDED".equals(job(key, id).get("status").asString()));
        String tap = BROKER.controlTap();
        double staleBefore = rejected("stale-attempt");
        double redundantBefore = counter("gpu.gateway.jobs.redundant.attempts", null, null);

        // the old worker, unaware, sends the same outcome again and starts its attempt once more
        old.publish(old.succeeded(1));
        old.publish(old.running());

        GetResponse command = await().atMost(Duration.ofSeconds(10)).until(() -> BROKER.take(tap), m -> m != null);
        CancelJobCommand stop = JobAttempt.WIRE.readValue(command.getBody(), CancelJobCommand.class);
        assertThat(stop.jobId()).isEqualTo(id);
        assertThat(stop.attempt()).as("only the old attempt").isEqualTo(1);
        assertThat(stop.workerId()).as("only on the old worker").isEqualTo(lost.id());
        await().atMost(Duration.ofSeconds(10)).until(() -> rejected("stale-attempt") >= staleBefore + 2);
        assertThat(BROKER.take(tap))
                .as("one command per redundant start, not one per event")
                .isNull();
        assertThat(counter("gpu.gateway.jobs.redundant.attempts", null, null)).isEqualTo(redundantBefore + 1);
        JsonNode done = job(key, id);
        assertThat(done.get("status").asString()).isEqualTo("SUCCEEDED");
        assertThat(done.get("attempt").asInt()).isEqualTo(2);
        assertThat(done.get("images"))
                .as("the outcome of the current assignment")
                .hasSize(2);
        assertThat(row(id).get("worker_id")).isEqualTo(other.id());
        assertThat(row(id).get("image_rows")).isEqualTo(2L);
    }

    @Test
    void anEventOfAnAttemptTheSchedulerNeverHandedOutChangesNothing() {
        String key = newKey();
        String pool = newPool();
        TestWorker gpu = worker(pool);
        UUID id = api().submit(key, Api.job(pool, "one assignment")).id();
        JobAttempt current = gpu.next();
        current.publish(current.running(), current.progress(10));
        await().atMost(Duration.ofSeconds(10))
                .until(() -> job(key, id).get("progress").asInt() == 10);
        double unknownBefore = rejected("unknown-assignment");
        long versionBefore = version(id);
        JobAttempt invented = BROKER.attempt(gpu.id(), id, current.attempt() + 1);

        invented.publish(invented.running(), invented.progress(90), invented.succeeded(1));

        await().atMost(Duration.ofSeconds(10)).until(() -> rejected("unknown-assignment") >= unknownBefore + 3);
        assertThat(version(id)).isEqualTo(versionBefore);
        assertThat(assignment(id))
                .containsEntry("status", "RUNNING")
                .containsEntry("attempt", 1)
                .containsEntry("assigned_worker", gpu.id());
        current.publish(current.succeeded(1));
        await().atMost(Duration.ofSeconds(10))
                .until(() -> "SUCCEEDED".equals(job(key, id).get("status").asString()));
    }

    @Test
    void eventsForUnknownJobsAndUnreadableMessagesAreCountedNotApplied() throws Exception {
        double unknownBefore = counter("gpu.gateway.events.rejected", "reason", "unknown-job");
        double unreadableBefore = counter("gpu.gateway.events.rejected", "reason", "unreadable");
        JobAttempt ghost = BROKER.attempt("gpu-6", UUID.randomUUID(), 1);

        ghost.publish(ghost.running());
        BROKER.channel().basicPublish(Topology.EVENTS_EXCHANGE, "job.running", null, "{not json".getBytes());

        await().atMost(Duration.ofSeconds(10))
                .until(() -> counter("gpu.gateway.events.rejected", "reason", "unknown-job") > unknownBefore
                        && counter("gpu.gateway.events.rejected", "reason", "unreadable") > unreadableBefore);
    }

    @Test
    void cancellingAWaitingJobCancelsItAtOnceAndTellsTheWorkers() {
        String key = newKey();
        UUID id = api().submit(key, Api.job(newPool(), "cancel me")).id();
        String tap = BROKER.controlTap();

        Api.Response cancelled = api().delete(key, "/api/v1/jobs/" + id);
        Api.Response again = api().delete(key, "/api/v1/jobs/" + id);

        assertThat(cancelled.status()).isEqualTo(200);
        assertThat(cancelled.json().get("status").asString()).isEqualTo("CANCELLED");
        assertThat(cancelled.json().get("cancelRequested").asBoolean()).isTrue();
        assertThat(again.status()).isEqualTo(200);
        assertThat(again.json().get("version").asLong())
                .isEqualTo(cancelled.json().get("version").asLong());
        GetResponse command = await().atMost(Duration.ofSeconds(10)).until(() -> BROKER.take(tap), m -> m != null);
        CancelJobCommand cancel = JobAttempt.WIRE.readValue(command.getBody(), CancelJobCommand.class);
        assertThat(cancel.jobId()).isEqualTo(id);
        assertThat(cancel.isOwnersCancel()).as("every attempt, every worker").isTrue();
        await().atMost(Duration.ofSeconds(10)).until(() -> queueIndex.standing(id) == null);
    }

    @Test
    void aJobCancelledWhileAssignedButNotStartedStaysCancelledAndItsWorkerIsToldToStopItIfItStartsIt() {
        String key = newKey();
        String pool = newPool();
        TestWorker gpu = worker(pool);
        api().submit(key, Api.job(pool, "running first"));
        JobAttempt first = gpu.next();
        first.publish(first.running());
        UUID id = api().submit(key, Api.job(pool, "assigned, cancelled")).id();
        await().atMost(Duration.ofSeconds(10)).until(() -> gpu.id().equals(assignedWorker(id)));
        String tap = BROKER.controlTap();

        Api.Response cancelled = api().delete(key, "/api/v1/jobs/" + id);

        assertThat(cancelled.status()).isEqualTo(200);
        assertThat(cancelled.json().get("status").asString()).isEqualTo("CANCELLED");
        assertThat(assignedWorker(id)).as("its slot is free at once").isNull();
        GetResponse ownersCancel = await().atMost(Duration.ofSeconds(10)).until(() -> BROKER.take(tap), m -> m != null);
        assertThat(JobAttempt.WIRE
                        .readValue(ownersCancel.getBody(), CancelJobCommand.class)
                        .isOwnersCancel())
                .isTrue();

        // a worker that missed the cancel starts the job when its message comes up
        first.publish(first.succeeded(1));
        JobAttempt missed = gpu.next();
        assertThat(missed.jobId()).isEqualTo(id);
        double terminalBefore = rejected("terminal");
        missed.publish(missed.running());

        await().atMost(Duration.ofSeconds(10)).until(() -> rejected("terminal") > terminalBefore);
        GetResponse stop = await().atMost(Duration.ofSeconds(10)).until(() -> BROKER.take(tap), m -> m != null);
        CancelJobCommand command = JobAttempt.WIRE.readValue(stop.getBody(), CancelJobCommand.class);
        assertThat(command.jobId()).isEqualTo(id);
        assertThat(command.stops(missed.attempt(), gpu.id())).isTrue();
        assertThat(command.isOwnersCancel()).isFalse();
        missed.publish(missed.cancelled());
        assertThat(job(key, id).get("status").asString()).isEqualTo("CANCELLED");
        assertThat(job(key, id).get("version").asLong())
                .isEqualTo(cancelled.json().get("version").asLong());
    }

    @Test
    void cancellingARunningJobAsksTheWorkerAndTheJobEndsWhenItConfirms() {
        String key = newKey();
        String pool = newPool();
        TestWorker gpu = worker(pool);
        UUID id = api().submit(key, Api.job(pool, "running cancel")).id();
        JobAttempt worker = gpu.next();
        worker.publish(worker.running());
        await().atMost(Duration.ofSeconds(10))
                .until(() -> "RUNNING".equals(job(key, id).get("status").asString()));
        String tap = BROKER.controlTap();

        Api.Response pending = api().delete(key, "/api/v1/jobs/" + id);
        Api.Response stillPending = api().delete(key, "/api/v1/jobs/" + id);

        assertThat(pending.status()).isEqualTo(202);
        assertThat(pending.json().get("status").asString()).isEqualTo("RUNNING");
        assertThat(pending.json().get("cancelRequested").asBoolean()).isTrue();
        assertThat(stillPending.status()).isEqualTo(202);
        GetResponse command = await().atMost(Duration.ofSeconds(10)).until(() -> BROKER.take(tap), m -> m != null);
        assertThat(JobAttempt.WIRE
                        .readValue(command.getBody(), CancelJobCommand.class)
                        .jobId())
                .isEqualTo(id);
        assertThat(jdbc.queryForObject(
                        "select count(*) from outbox where job_id = ? and kind = 'CANCEL'", Long.class, id))
                .as("one command, however often the owner asks")
                .isEqualTo(1L);

        worker.publish(worker.cancelled());

        await().atMost(Duration.ofSeconds(10))
                .until(() -> "CANCELLED".equals(job(key, id).get("status").asString()));
        Api.Response done = api().delete(key, "/api/v1/jobs/" + id);
        assertThat(done.status()).isEqualTo(200);
        assertThat(done.json().get("status").asString()).isEqualTo("CANCELLED");
        assertThat(assignedWorker(id)).isNull();
    }
}
