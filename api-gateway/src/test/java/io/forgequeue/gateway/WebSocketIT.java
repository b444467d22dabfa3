package io.forgequeue.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

/** The /ws protocol (PROTOCOL.md): snapshots, ordered updates, resume, isolation, positions, previews, auth. */
class WebSocketIT extends IntegrationTestBase {

    private static boolean isJobFrame(JsonNode f, UUID id) {
        return ("snapshot".equals(f.path("type").asString())
                        || "update".equals(f.path("type").asString()))
                && id.toString().equals(f.path("job").path("id").asString());
    }

    private static JsonNode withoutQueueFields(JsonNode job) {
        ObjectNode copy = (ObjectNode) job.deepCopy();
        copy.remove("position");
        copy.remove("eta");
        copy.remove("waiting");
        return copy;
    }

    @Test
    void aSubscriberGetsASnapshotThenEveryNewerVersionAndAReloadShowsWhatItSaw() {
        String key = newKey();
        String pool = newPool();
        UUID id = api().submit(key, Api.job(pool, "watched")).id();
        try (WsClient ws = WsClient.authenticated(port, key)) {
            ws.subscribe(id);
            JsonNode snapshot = ws.nextOfType("snapshot");
            assertThat(snapshot.get("job").get("status").asString()).isEqualTo("QUEUED");
            assertThat(snapshot.get("job").get("position").asInt()).isEqualTo(1);
            assertThat(snapshot.get("job").get("waiting").get("ahead").asInt()).isZero();
            JobAttempt worker = worker(pool).next();

            worker.publish(worker.running(), worker.progress(25), worker.progress(75), worker.succeeded(1));

            JsonNode last = ws.next(f -> isJobFrame(f, id)
                    && "SUCCEEDED".equals(f.get("job").get("status").asString()));
            List<Long> versions = new ArrayList<>();
            for (JsonNode f : ws.seen()) {
                if (isJobFrame(f, id)) {
                    versions.add(f.get("job").get("version").asLong());
                }
                assertThat(f.toString()).as("no image bytes over the relay").doesNotContain("\"data\"");
            }
            assertThat(versions).isSortedAccordingTo(Long::compare).doesNotHaveDuplicates();
            JsonNode reloaded = api().get(key, "/api/v1/jobs/" + id).json();
            // the reload may show a later version (a late event filling in facts); then it shows at least as much
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
                JsonNode newest = ws.seen().stream()
                        .filter(f -> isJobFrame(f, id))
                        .reduce((a, b) -> b)
                        .orElseThrow();
                assertThat(withoutQueueFields(
                                api().get(key, "/api/v1/jobs/" + id).json()))
                        .isEqualTo(withoutQueueFields(newest.get("job")));
            });
            assertThat(reloaded.get("images").get(0).get("url").asString()).endsWith("/images/0");
            assertThat(last.get("job").get("progress").asInt()).isEqualTo(100);
        }
    }

    @Test
    void aClientThatReconnectsWithItsLastVersionNeverMissesTheTerminalState() {
        String key = newKey();
        String pool = newPool();
        UUID id = api().submit(key, Api.job(pool, "resume")).id();
        long seenVersion;
        try (WsClient ws = WsClient.authenticated(port, key)) {
            ws.subscribe(id);
            seenVersion = ws.nextOfType("snapshot").get("job").get("version").asLong();
        }
        JobAttempt worker = worker(pool).next();
        worker.publish(worker.running(), worker.failed(io.forgequeue.model.ErrorCode.FORGE_TIMEOUT));
        await().atMost(Duration.ofSeconds(10))
                .until(() -> "FAILED"
                        .equals(api().get(key, "/api/v1/jobs/" + id)
                                .json()
                                .get("status")
                                .asString()));
        long current =
                api().get(key, "/api/v1/jobs/" + id).json().get("version").asLong();

        try (WsClient ws = WsClient.authenticated(port, key)) {
            ws.send("{\"type\":\"subscribe\",\"jobId\":\"" + id + "\",\"version\":" + seenVersion + "}");
            JsonNode fresh = ws.nextOfType("snapshot");
            ws.send("{\"type\":\"subscribe\",\"jobId\":\"" + id + "\",\"version\":" + current + "}");
            JsonNode unchanged = ws.nextOfType("subscribed");

            assertThat(fresh.get("job").get("status").asString()).isEqualTo("FAILED");
            assertThat(fresh.get("job").get("error").get("code").asString()).isEqualTo("FORGE_TIMEOUT");
            assertThat(unchanged.get("unchanged").asBoolean()).isTrue();
            assertThat(unchanged.get("version").asLong()).isEqualTo(current);
        }
        try (WsClient ws = WsClient.authenticated(port, key)) {
            ws.send("{\"type\":\"subscribe\",\"scope\":\"all\",\"versions\":{\"" + id + "\":" + seenVersion + "}}");
            JsonNode fresh = ws.nextOfType("snapshot");
            assertThat(fresh.get("job").get("status").asString())
                    .as("a job that ended while away")
                    .isEqualTo("FAILED");
            assertThat(ws.nextOfType("subscribed").get("scope").asString()).isEqualTo("all");
        }
    }

    @Test
    void aKeyCanNeitherSubscribeToNorOverhearAnotherKeysJob() {
        String alice = newKey();
        String bob = newKey();
        String pool = newPool();
        UUID alicesJob = api().submit(alice, Api.job(pool, "alice")).id();
        try (WsClient ws = WsClient.authenticated(port, bob)) {
            ws.subscribe(alicesJob);
            JsonNode refused = ws.nextOfType("error");
            ws.subscribe(UUID.randomUUID());
            JsonNode unknown = ws.nextOfType("error");
            ws.send("{\"type\":\"subscribe\",\"scope\":\"all\"}");
            ws.nextOfType("subscribed");

            JobAttempt worker = worker(pool).next();
            assertThat(worker.jobId()).isEqualTo(alicesJob);
            worker.publish(worker.running(), worker.progress(50));
            await().atMost(Duration.ofSeconds(10))
                    .until(() -> api().get(alice, "/api/v1/jobs/" + alicesJob)
                                    .json()
                                    .get("progress")
                                    .asInt()
                            == 50);
            UUID bobsJob = api().submit(bob, Api.job(pool, "bob")).id();
            ws.next(f -> isJobFrame(f, bobsJob)); // relay order: anything about Alice's job came before

            assertThat(refused.get("code").asString()).isEqualTo("job-not-found");
            assertThat(unknown.get("code").asString())
                    .isEqualTo(refused.get("code").asString());
            assertThat(ws.seen())
                    .noneMatch(f -> f.toString().contains(alicesJob.toString())
                            && !"error".equals(f.path("type").asString()));
        }
    }

    private static boolean isPosition(JsonNode frame, int position) {
        return "position".equals(frame.path("type").asString())
                && frame.get("position").asInt() == position;
    }

    @Test
    void waitingClientsGetTheirNewPositionAndWhatTheyWaitForWhenTheQueueMovesCoalescedIntoFewPushes() throws Exception {
        String key = newKey();
        String pool = newPool();
        List<UUID> ahead = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            ahead.add(api().submit(key, Api.job(pool, "ahead " + i)).id());
        }
        UUID mine = api().submit(key, Api.job(pool, "mine")).id();
        awaitQueued(pool, 11); // positions come from the queue index, which learns of commits a moment later
        try (WsClient ws = WsClient.authenticated(port, key)) {
            ws.subscribe(mine);
            JsonNode snapshot = ws.nextOfType("snapshot").get("job");
            assertThat(snapshot.get("position").asInt()).isEqualTo(11);
            assertThat(snapshot.get("waiting").get("ownAhead").asInt()).isEqualTo(10);
            assertThat(snapshot.get("waiting").get("blocked").asString()).contains("No GPU");

            // a worker arrives: it takes the first job and one of lookahead, which both still start before mine
            TestWorker gpu = worker(pool);
            JobAttempt first = gpu.next();
            assertThat(first.jobId()).isEqualTo(ahead.get(0));
            JsonNode taken = ws.next(
                    f -> isPosition(f, 11) && f.get("waiting").get("ownAhead").asInt() == 8);
            assertThat(taken.get("waiting").get("ahead").asInt()).isEqualTo(10);
            assertThat(taken.get("waiting").get("next").asBoolean()).isFalse();
            assertThat(taken.get("waiting").has("blocked"))
                    .as("a GPU is there now")
                    .isFalse();
            first.publish(first.running());
            JsonNode started = ws.next(f -> isPosition(f, 10));
            assertThat(started.get("waiting").get("ahead").asInt())
                    .as("a job started")
                    .isEqualTo(9);
            int framesBefore = ws.seen().size();

            ExecutorService clients = Executors.newFixedThreadPool(9);
            List<Future<Api.Response>> cancels = new ArrayList<>();
            for (UUID id : ahead.subList(1, 10)) {
                cancels.add(clients.submit(() -> api().delete(key, "/api/v1/jobs/" + id)));
            }
            for (Future<Api.Response> f : cancels) {
                assertThat(f.get().status()).isEqualTo(200);
            }
            clients.shutdown();

            // nothing left before mine: the worker's free slot takes it, and it starts when the running job ends
            JsonNode next = ws.next(
                    f -> isPosition(f, 1) && f.get("waiting").get("next").asBoolean());
            assertThat(next.get("waiting").get("ahead").asInt()).isZero();
            long pushes = ws.seen().subList(framesBefore, ws.seen().size()).stream()
                    .filter(f -> "position".equals(f.path("type").asString()))
                    .count();
            assertThat(pushes)
                    .as("nine cancels in a burst cost fewer than nine pushes")
                    .isLessThan(9);
            assertThat(api().get(key, "/api/v1/jobs/" + mine)
                            .json()
                            .get("position")
                            .asInt())
                    .isEqualTo(1);
            assertThat(assignedWorker(mine)).isEqualTo(gpu.id());
        }
    }

    @Test
    void aQueueSubscriberGetsTheOverviewAtOnceThenAgainWhenJobsOrWorkersChangeAndOnlyThen() {
        String key = newKey();
        String jobs = newPool();
        String gpus = newPool();
        String worker = "wsq-" + UUID.randomUUID().toString().substring(0, 8);
        UUID instance = UUID.randomUUID();
        try (WsClient ws = WsClient.authenticated(port, key)) {
            ws.send("{\"type\":\"subscribe\",\"scope\":\"queue\"}");
            ws.next(f -> "subscribed".equals(f.path("type").asString())
                    && "queue".equals(f.path("scope").asString()));
            JsonNode first = ws.nextOfType("queue");

            UUID id = api().submit(key, Api.job(jobs, "counted in the header")).id();
            JsonNode queued = ws.next(
                    f -> pool(f, jobs) != null && pool(f, jobs).path("depth").asInt() == 1);
            TestWorker.announce(
                    BROKER.channel(), status(worker, instance, gpus, io.forgequeue.model.WorkerState.READY, 1));
            ws.next(f -> pool(f, gpus) != null
                    && pool(f, gpus).path("availableWorkers").asInt() == 1
                    && pool(f, gpus).path("pausedWorkers").asInt() == 0);
            TestWorker.announce(
                    BROKER.channel(), status(worker, instance, gpus, io.forgequeue.model.WorkerState.PAUSED, 2));
            ws.next(f -> pool(f, gpus) != null
                    && pool(f, gpus).path("availableWorkers").asInt() == 0
                    && pool(f, gpus).path("pausedWorkers").asInt() == 1);
            TestWorker.announce(
                    BROKER.channel(), status(worker, instance, gpus, io.forgequeue.model.WorkerState.GONE, 3));
            ws.next(f -> "queue".equals(f.path("type").asString())
                    && (pool(f, gpus) == null
                            || pool(f, gpus).path("availableWorkers").asInt()
                                            + pool(f, gpus)
                                                    .path("pausedWorkers")
                                                    .asInt()
                                    == 0));
            api().delete(key, "/api/v1/jobs/" + id);
            ws.next(f -> "queue".equals(f.path("type").asString())
                    && (pool(f, jobs) == null || pool(f, jobs).path("depth").asInt() == 0));

            assertThat(first.get("queue").has("at"))
                    .as("the same body as GET /api/v1/queue, without its time")
                    .isFalse();
            assertThat(pool(queued, jobs).get("own").get("queued").asInt()).isEqualTo(1);
            List<String> overviews = ws.seen().stream()
                    .filter(f -> "queue".equals(f.path("type").asString()))
                    .map(JsonNode::toString)
                    .toList();
            for (int i = 1; i < overviews.size(); i++) {
                assertThat(overviews.get(i))
                        .as("a frame only when something changed")
                        .isNotEqualTo(overviews.get(i - 1));
            }
        }
    }

    private static JsonNode pool(JsonNode frame, String pool) {
        if (!"queue".equals(frame.path("type").asString())) {
            return null;
        }
        for (JsonNode p : frame.path("queue").path("pools")) {
            if (pool.equals(p.path("pool").asString())) {
                return p;
            }
        }
        return null;
    }

    private static io.forgequeue.model.WorkerStatus status(
            String worker, UUID instance, String pool, io.forgequeue.model.WorkerState state, long seq) {
        return new io.forgequeue.model.WorkerStatus(
                worker, instance, pool, state, seq, null, null, 1000, java.time.Instant.now());
    }

    @Test
    void previewsReachTheClientsWatchingThatJob() {
        String key = newKey();
        String pool = newPool();
        UUID id = api().submit(key, Api.job(pool, "preview")).id();
        try (WsClient ws = WsClient.withHeader(port, key)) {
            ws.nextOfType("authenticated");
            ws.subscribe(id);
            ws.nextOfType("snapshot");
            JobAttempt worker = worker(pool).next();
            worker.publish(worker.running());
            ws.next(f -> isJobFrame(f, id)
                    && "RUNNING".equals(f.get("job").get("status").asString()));

            worker.preview(7);

            JsonNode preview = ws.nextOfType("preview");
            assertThat(preview.get("jobId").asString()).isEqualTo(id.toString());
            assertThat(preview.get("step").asInt()).isEqualTo(7);
            assertThat(preview.get("mimeType").asString()).isEqualTo("image/png");
            assertThat(java.util.Base64.getDecoder().decode(preview.get("data").asString()))
                    .isEqualTo(JobAttempt.PNG);
        }
    }

    @Test
    void sessionsMustAuthenticateWithAValidKeyInTime() {
        try (WsClient silent = WsClient.connect(port);
                WsClient wrong = WsClient.connect(port);
                WsClient eager = WsClient.connect(port)) {
            wrong.send("{\"type\":\"auth\",\"apiKey\":\"nope\"}");
            eager.send("{\"type\":\"subscribe\",\"scope\":\"all\"}");

            assertThat(silent.closeCode(5)).isEqualTo(4408);
            assertThat(wrong.closeCode(5)).isEqualTo(4401);
            assertThat(eager.closeCode(5)).isEqualTo(4401);
        }
    }
}
