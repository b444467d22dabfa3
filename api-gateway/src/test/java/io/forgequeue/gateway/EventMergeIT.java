package io.forgequeue.gateway;

import com.rabbitmq.client.GetResponse;
import io.forgequeue.model.CancelJobCommand;
import io.forgequeue.model.ErrorCode;
import io.forgequeue.model.JobEvent;
import io.forgequeue.model.Topology;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Status events published to forge.events exactly as a worker would, merged into PostgreSQL; and cancel. */
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
        UUID id = api().submit(key, Api.job(newPool(), "events")).id();
        TestWorker worker = BROKER.worker("gpu-1", id, 1);
        JobEvent running = worker.running();
        JobEvent progress = worker.progress(50);
        JobEvent heartbeat = worker.heartbeat();
        JobEvent succeeded = worker.succeeded(2);

        worker.publish(running, progress, heartbeat, succeeded);

        JsonNode done = await().atMost(Duration.ofSeconds(10)).until(() -> job(key, id),
                j -> "SUCCEEDED".equals(j.get("status").asString()));
        assertThat(done.get("progress").asInt()).isEqualTo(100);
        assertThat(done.get("attempt").asInt()).isEqualTo(1);
        assertThat(done.has("workerId")).as("the worker is the operators' business").isFalse();
        assertThat(row(id).get("worker_id")).isEqualTo("gpu-1");
        assertThat(java.time.Instant.parse(done.get("startedAt").asString())).isEqualTo(running.occurredAt());
        assertThat(java.time.Instant.parse(done.get("finishedAt").asString())).isEqualTo(succeeded.occurredAt());
        assertThat(done.has("position")).isFalse();
        assertThat(done.get("metadata").get("seed").asInt()).isEqualTo(42);
        JsonNode stored = TestWorker.WIRE.readTree((String) row(id).get("metadata"));
        assertThat(stored.get("forgeUrl").asString()).isEqualTo("http://127.0.0.1:7861");
        assertThat(stored.get("seed").asInt()).isEqualTo(42);
        assertThat(stored.get("worker").get("version").asString()).as("deep merge keeps nested fields").isEqualTo("1.0");
        assertThat(stored.get("worker").get("forgeMillis").asInt()).isEqualTo(1234);
        assertThat(done.get("images")).hasSize(2);
        String url = done.get("images").get(1).get("url").asString();
        assertThat(url).isEqualTo("/api/v1/jobs/" + id + "/images/1");

        Api.Response image = api().get(key, url);
        assertThat(image.status()).isEqualTo(200);
        assertThat(image.header("Content-Type")).isEqualTo("image/png");
        assertThat(image.header("Cache-Control")).contains("immutable").contains("private").contains("max-age=31536000");
        assertThat(image.raw().body()).hasSize(TestWorker.PNG.length).endsWith((byte) '1');
        String etag = image.header("ETag");
        assertThat(etag).isNotBlank();
        Api.Response again = api().get(key, url, "If-None-Match", etag);
        assertThat(again.status()).isEqualTo(304);
        assertThat(api().get(key, "/api/v1/jobs/" + id + "/images/2").status()).isEqualTo(404);
        // Four consumers merge concurrently, so RUNNING may be merged after SUCCEEDED (then it only fills in the
        // start time): the history records the transitions as applied.
        List<String> history = jdbc.queryForList("select coalesce(from_status, '') || '>' || to_status "
                + "from job_state_history where job_id = ? order by id", String.class, id);
        assertThat(history.get(0)).isEqualTo(">QUEUED");
        assertThat(history.get(history.size() - 1)).endsWith(">SUCCEEDED");
    }

    // Issue 15: job views carried the worker's id, its Forge URL and version, Forge's raw error text and exception
    // class names.
    @Test
    void aJobShowsItsOwnerWhatTheGenerationUsedButNoWorkerAndNoInternalsOverRestOrWebSocket() {
        String key = newKey();
        String pool = newPool();
        UUID id = api().submit(key, Api.job(pool, "internals")).id();
        TestWorker worker = BROKER.worker("gpu-internal-7f", id, 1);
        Map<String, Object> started = Map.of("forgeUrl", "http://10.20.30.40:7860", "pool", pool,
                "workerVersion", "0.1.0-internal");
        // whatever a worker sends: what Forge reported, and technical details of the failure
        Map<String, Object> failure = Map.of("seed", 1234, "sdModelName", "flux1-dev", "sampler", "Euler a",
                "forgeVersion", "f2.0.1-internal", "forgeMillis", 4321, "httpStatus", 500,
                "forgeError", "NansException", "forgeMessage", "NaNs in /opt/forge/modules/processing.py",
                "exception", "java.lang.IllegalStateException", "addedByANewerWorker", "internal");

        JsonNode failedFrame;
        try (WsClient ws = WsClient.authenticated(port, key)) {
            ws.subscribe(id);
            ws.nextOfType("snapshot");
            worker.publish(worker.running(started),
                    worker.failed(ErrorCode.NO_IMAGES, ErrorCode.NO_IMAGES.defaultMessage(), failure));
            // both events merged (RUNNING may come second and only fill in its facts): the last version of the job
            long last = await().atMost(Duration.ofSeconds(10)).until(() -> versionWithBothEvents(id), v -> v > 0);
            failedFrame = ws.next(f -> id.toString().equals(f.path("job").path("id").asString())
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
        JsonNode stored = TestWorker.WIRE.readTree((String) row(id).get("metadata"));
        assertThat(stored.get("forgeUrl").asString()).as("kept for operators").isEqualTo("http://10.20.30.40:7860");
        assertThat(stored.get("forgeError").asString()).isEqualTo("NansException");
        assertThat(stored.get("exception").asString()).isEqualTo("java.lang.IllegalStateException");
        assertThat(row(id).get("worker_id")).isEqualTo("gpu-internal-7f");
    }

    /** The job's version once its RUNNING and FAILED events are both merged, else -1. */
    private long versionWithBothEvents(UUID id) {
        Map<String, Object> job = jdbc.queryForMap("select status, metadata::text as metadata, version from job "
                + "where id = ?", id);
        boolean both = "FAILED".equals(job.get("status")) && ((String) job.get("metadata")).contains("forgeUrl");
        return both ? ((Number) job.get("version")).longValue() : -1;
    }

    private static void assertShowsNoInternals(String json) {
        assertThat(json).doesNotContain("gpu-internal-7f", "workerId", "forgeUrl", "10.20.30.40", "workerVersion",
                "0.1.0-internal", "forgeVersion", "forgeMillis", "httpStatus", "forgeError", "NansException",
                "forgeMessage", "/opt/forge", "exception", "java.lang", "addedByANewerWorker");
    }

    private static JsonNode poolOf(JsonNode queue, String pool) {
        for (JsonNode p : queue.get("pools")) {
            if (pool.equals(p.get("pool").asString())) {
                return p;
            }
        }
        return null;
    }

    @Test
    void theQueueOverviewAndEtaReflectActiveWorkersAndRecentJobTimes() {
        String key = newKey();
        String pool = newPool();
        for (int i = 0; i < 2; i++) {
            UUID id = api().submit(key, Api.job(pool, "history " + i)).id();
            TestWorker worker = BROKER.worker("gpu-eta", id, 1);
            worker.publish(worker.running(), worker.progress(50), worker.succeeded(1));
        }
        UUID running = api().submit(key, Api.job(pool, "running")).id();
        TestWorker busy = BROKER.worker("gpu-eta", running, 1);
        busy.publish(busy.running());
        UUID waiting = api().submit(key, Api.job(pool, "waiting")).id();

        JsonNode queue = await().atMost(Duration.ofSeconds(10)).until(() -> api().get(key, "/api/v1/queue").json(),
                q -> q.has("meanJobSeconds") && q.get("activeWorkers").asInt() >= 1 && poolOf(q, pool) != null
                        && poolOf(q, pool).get("running").asInt() == 1 && poolOf(q, pool).get("depth").asInt() == 1);
        assertThat(queue.get("meanJobSeconds").asDouble()).isPositive();
        JsonNode eta = api().get(key, "/api/v1/jobs/" + waiting).json().get("eta");
        assertThat(eta).as("position 1 with history and an active worker has an ETA").isNotNull();
        assertThat(eta.get("seconds").asDouble()).isPositive();
        assertThat(api().get(null, "/api/v1/queue").status()).isEqualTo(401);
    }

    @Test
    void duplicatedAndShuffledEventsEndInTheSameRowAsInOrderDelivery() {
        String key = newKey();
        String pool = newPool();
        UUID reference = api().submit(key, Api.job(pool, "in order")).id();
        java.time.Instant start = java.time.Instant.now().truncatedTo(java.time.temporal.ChronoUnit.MILLIS);
        TestWorker inOrder = BROKER.worker("gpu-2", reference, 1).clockAt(start);
        List<JobEvent> events = List.of(inOrder.running(), inOrder.progress(10), inOrder.progress(40),
                inOrder.heartbeat(), inOrder.progress(80), inOrder.succeeded(1));
        for (JobEvent event : events) {
            long before = version(reference);
            TestWorker.publish(BROKER.channel(), List.of(event));
            await().atMost(Duration.ofSeconds(10)).until(() -> version(reference) > before);
        }
        Map<String, Object> expected = row(reference);
        assertThat(expected.get("status")).isEqualTo("SUCCEEDED");

        Random random = new Random(7);
        for (int round = 0; round < 4; round++) {
            UUID id = api().submit(key, Api.job(pool, "shuffled " + round)).id();
            TestWorker shuffled = BROKER.worker("gpu-2", id, 1).clockAt(start);
            List<JobEvent> same = List.of(shuffled.running(), shuffled.progress(10), shuffled.progress(40),
                    shuffled.heartbeat(), shuffled.progress(80), shuffled.succeeded(1));
            List<JobEvent> delivery = new ArrayList<>(same);
            delivery.addAll(same);
            delivery.add(same.get(0));
            Collections.shuffle(delivery, random);

            TestWorker.publish(BROKER.channel(), delivery);

            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(row(id)).isEqualTo(expected));
            await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(3))
                    .untilAsserted(() -> assertThat(row(id)).isEqualTo(expected));
        }
        assertThat(counter("gpu.gateway.events.rejected", "reason", "duplicate")).isPositive();
    }

    @Test
    void aFailedJobKeepsItsErrorAndRejectsLaterEventsAsTerminal() {
        String key = newKey();
        UUID id = api().submit(key, Api.job(newPool(), "will fail")).id();
        TestWorker worker = BROKER.worker("gpu-3", id, 1);
        worker.publish(worker.running(), worker.failed(ErrorCode.FORGE_OUT_OF_MEMORY));
        JsonNode failed = await().atMost(Duration.ofSeconds(10)).until(() -> job(key, id),
                j -> "FAILED".equals(j.get("status").asString()));
        double terminalBefore = counter("gpu.gateway.events.rejected", "reason", "terminal");
        long versionBefore = version(id);

        worker.publish(worker.progress(90), worker.succeeded(1));

        await().atMost(Duration.ofSeconds(10))
                .until(() -> counter("gpu.gateway.events.rejected", "reason", "terminal") >= terminalBefore + 2);
        assertThat(failed.get("error").get("code").asString()).isEqualTo("FORGE_OUT_OF_MEMORY");
        assertThat(failed.get("error").get("message").asString()).isEqualTo(ErrorCode.FORGE_OUT_OF_MEMORY.defaultMessage());
        assertThat(failed.get("error").get("retryable").asBoolean()).isTrue();
        assertThat(version(id)).isEqualTo(versionBefore);
        assertThat(job(key, id).get("status").asString()).isEqualTo("FAILED");
    }

    @Test
    void aWorkerThatStartsAFinishedJobAgainIsAskedToStopOnceAndTheResultStays() {
        String key = newKey();
        UUID id = api().submit(key, Api.job(newPool(), "done once")).id();
        TestWorker first = BROKER.worker("gpu-9", id, 1);
        first.publish(first.running(), first.succeeded(1));
        await().atMost(Duration.ofSeconds(10)).until(() -> "SUCCEEDED".equals(job(key, id).get("status").asString()));
        String tap = BROKER.controlTap();
        double redundantBefore = counter("gpu.gateway.jobs.redundant.attempts", null, null);
        double ignoredBefore = ignored();

        // the same attempt's RUNNING again (a duplicate) is no new run: nothing to stop
        first.publish(first.running());
        await().atMost(Duration.ofSeconds(10)).until(() -> ignored() > ignoredBefore);
        double terminalBefore = counter("gpu.gateway.events.rejected", "reason", "terminal");
        // the job's message came back (its ack was lost): a second worker starts attempt 2 and reports progress
        TestWorker again = BROKER.worker("gpu-10", id, 2);
        again.publish(again.running(), again.progress(40));

        GetResponse command = await().atMost(Duration.ofSeconds(10)).until(() -> BROKER.take(tap), m -> m != null);
        assertThat(TestWorker.WIRE.readValue(command.getBody(), CancelJobCommand.class).jobId()).isEqualTo(id);
        await().atMost(Duration.ofSeconds(10))
                .until(() -> counter("gpu.gateway.events.rejected", "reason", "terminal") >= terminalBefore + 2);
        assertThat(BROKER.take(tap)).as("one command per redundant attempt, not one per event").isNull();
        assertThat(counter("gpu.gateway.jobs.redundant.attempts", null, null)).isEqualTo(redundantBefore + 1);
        JsonNode done = job(key, id);
        assertThat(done.get("status").asString()).isEqualTo("SUCCEEDED");
        assertThat(done.get("attempt").asInt()).isEqualTo(1);
        assertThat(row(id).get("worker_id")).isEqualTo("gpu-9");
    }

    private double ignored() {
        return counter("gpu.gateway.events.rejected", "reason", "duplicate")
                + counter("gpu.gateway.events.rejected", "reason", "terminal");
    }

    @Test
    void aRequeuedJobWaitsAgainAndTheNewerAttemptWinsOverStaleEvents() {
        String key = newKey();
        String pool = newPool();
        UUID id = api().submit(key, Api.job(pool, "given back")).id();
        TestWorker first = BROKER.worker("gpu-4", id, 1);
        first.publish(first.running(), first.progress(30), first.requeued());
        JsonNode requeued = await().atMost(Duration.ofSeconds(10)).until(() -> job(key, id),
                j -> "QUEUED".equals(j.get("status").asString()) && j.get("attempt").asInt() == 1);
        assertThat(requeued.get("position").asInt()).isEqualTo(1);
        assertThat(requeued.get("progress").asInt()).isZero();

        TestWorker second = BROKER.worker("gpu-5", id, 2);
        second.publish(second.running(), second.progress(60));
        await().atMost(Duration.ofSeconds(10)).until(() -> job(key, id).get("progress").asInt() == 60);
        double staleBefore = counter("gpu.gateway.events.rejected", "reason", "stale-attempt");
        first.publish(first.progress(99));
        second.publish(second.succeeded(1));

        JsonNode done = await().atMost(Duration.ofSeconds(10)).until(() -> job(key, id),
                j -> "SUCCEEDED".equals(j.get("status").asString()));
        await().atMost(Duration.ofSeconds(10))
                .until(() -> counter("gpu.gateway.events.rejected", "reason", "stale-attempt") > staleBefore);
        assertThat(done.get("attempt").asInt()).isEqualTo(2);
        assertThat(row(id).get("worker_id")).isEqualTo("gpu-5");
        assertThat(jdbc.queryForList("select from_status || '>' || to_status || '#' || attempt from job_state_history "
                + "where job_id = ? and from_status is not null order by id", String.class, id))
                .endsWith("QUEUED>RUNNING#2", "RUNNING>SUCCEEDED#2");
    }

    @Test
    void eventsForUnknownJobsAndUnreadableMessagesAreCountedNotApplied() throws Exception {
        double unknownBefore = counter("gpu.gateway.events.rejected", "reason", "unknown-job");
        double unreadableBefore = counter("gpu.gateway.events.rejected", "reason", "unreadable");
        TestWorker ghost = BROKER.worker("gpu-6", UUID.randomUUID(), 1);

        ghost.publish(ghost.running());
        BROKER.channel().basicPublish(Topology.EVENTS_EXCHANGE, "job.running", null, "{not json".getBytes());

        await().atMost(Duration.ofSeconds(10)).until(() ->
                counter("gpu.gateway.events.rejected", "reason", "unknown-job") > unknownBefore
                        && counter("gpu.gateway.events.rejected", "reason", "unreadable") > unreadableBefore);
    }

    @Test
    void cancellingAQueuedJobCancelsItAtOnceAndTellsTheWorkers() {
        String key = newKey();
        UUID id = api().submit(key, Api.job(newPool(), "cancel me")).id();
        String tap = BROKER.controlTap();

        Api.Response cancelled = api().delete(key, "/api/v1/jobs/" + id);
        Api.Response again = api().delete(key, "/api/v1/jobs/" + id);

        assertThat(cancelled.status()).isEqualTo(200);
        assertThat(cancelled.json().get("status").asString()).isEqualTo("CANCELLED");
        assertThat(cancelled.json().get("cancelRequested").asBoolean()).isTrue();
        assertThat(again.status()).isEqualTo(200);
        assertThat(again.json().get("version").asLong()).isEqualTo(cancelled.json().get("version").asLong());
        GetResponse command = await().atMost(Duration.ofSeconds(10)).until(() -> BROKER.take(tap), m -> m != null);
        assertThat(TestWorker.WIRE.readValue(command.getBody(), CancelJobCommand.class).jobId()).isEqualTo(id);

        TestWorker late = BROKER.worker("gpu-7", id, 1);
        double terminalBefore = counter("gpu.gateway.events.rejected", "reason", "terminal");
        late.publish(late.running());
        await().atMost(Duration.ofSeconds(10))
                .until(() -> counter("gpu.gateway.events.rejected", "reason", "terminal") > terminalBefore);
        assertThat(job(key, id).get("status").asString()).isEqualTo("CANCELLED");
    }

    @Test
    void cancellingARunningJobAsksTheWorkerAndTheJobEndsWhenItConfirms() {
        String key = newKey();
        UUID id = api().submit(key, Api.job(newPool(), "running cancel")).id();
        TestWorker worker = BROKER.worker("gpu-8", id, 1);
        worker.publish(worker.running());
        await().atMost(Duration.ofSeconds(10)).until(() -> "RUNNING".equals(job(key, id).get("status").asString()));
        String tap = BROKER.controlTap();

        Api.Response pending = api().delete(key, "/api/v1/jobs/" + id);
        Api.Response stillPending = api().delete(key, "/api/v1/jobs/" + id);

        assertThat(pending.status()).isEqualTo(202);
        assertThat(pending.json().get("status").asString()).isEqualTo("RUNNING");
        assertThat(pending.json().get("cancelRequested").asBoolean()).isTrue();
        assertThat(stillPending.status()).isEqualTo(202);
        GetResponse command = await().atMost(Duration.ofSeconds(10)).until(() -> BROKER.take(tap), m -> m != null);
        assertThat(TestWorker.WIRE.readValue(command.getBody(), CancelJobCommand.class).jobId()).isEqualTo(id);
        assertThat(jdbc.queryForObject("select count(*) from outbox where job_id = ? and kind = 'CANCEL'", Long.class, id))
                .as("one command, however often the owner asks").isEqualTo(1L);

        worker.publish(worker.cancelled());

        await().atMost(Duration.ofSeconds(10)).until(() -> "CANCELLED".equals(job(key, id).get("status").asString()));
        Api.Response done = api().delete(key, "/api/v1/jobs/" + id);
        assertThat(done.status()).isEqualTo(200);
        assertThat(done.json().get("status").asString()).isEqualTo("CANCELLED");
    }
}
