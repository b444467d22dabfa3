package io.forgequeue.systemtest;

import static io.forgequeue.systemtest.ForgeQueueSystem.ALICE_KEY;
import static io.forgequeue.systemtest.ForgeQueueSystem.BOB_KEY;
import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import tools.jackson.databind.JsonNode;

/**
 * Issue 6, hostile input and access: a corpus of bad requests (each must be a 4xx problem detail that stores and
 * publishes nothing and leaves the service healthy), every way of reaching what is not yours (no key, wrong key,
 * revoked key, another key's job over REST and WebSocket: refused without telling whether it exists), and a flood of
 * submissions from one key (429s for it, nothing for the others). One gateway with a cap of 20 queued jobs per key
 * ({@code gateway.quotas.max-queued}), an API-key cache of 1 s (so a revoked key is refused within a second) and a
 * 2 s WebSocket auth timeout.
 */
class HostileInputIT extends FaultSuite {

    private static final int MAX_QUEUED = 20;

    @Override
    ForgeQueueSystem.Builder system() {
        return ForgeQueueSystem.builder("hostile")
                .gateways(1)
                .workers(1)
                .forgeArgs("--step-ms", "20", "--model-load-ms", "0", "--preview-every", "2")
                .gatewayEnv(Map.of(
                        "GATEWAY_QUOTAS_MAXQUEUED",
                        Integer.toString(MAX_QUEUED),
                        "GATEWAY_APIKEYS_CACHETTL",
                        "1s",
                        "GATEWAY_WEBSOCKET_AUTHTIMEOUT",
                        "2s"));
    }

    /** One bad request of the corpus. */
    private record Bad(
            String name,
            String method,
            String path,
            String contentType,
            byte[] body,
            Map<String, String> headers,
            boolean chunked) {}

    @Test
    @Order(1)
    @Scenario(value = 11, title = "hostile input corpus")
    @Timeout(value = 10, unit = TimeUnit.MINUTES)
    void everyBadRequestIsA4xxProblemThatStoresAndPublishesNothing() {
        FaultRig r = rig();
        Http alice = r.system.http(0, ALICE_KEY);
        Workload good = r.workload("s11ok", Workload.Settings.steady(ofMillis(100)));
        good.submitOne(); // a job accepted before the corpus, so its id can be used in paths
        good.awaitSettled(ofSeconds(30));
        String existing = good.acceptedIds().get(0);
        List<Bad> corpus = corpus(existing);

        long jobs = r.system.sqlLong("select count(*) from job");
        long outbox = r.system.sqlLong("select count(*) from outbox");
        long keys = r.system.sqlLong("select count(*) from idempotency_key");
        long history = r.system.sqlLong("select count(*) from job_state_history");
        long published = r.observer.jobMessageDeliveries();
        long forgeCalls = r.system.forges().stream()
                .mapToLong(f -> f.admin().state().calls().received())
                .sum();

        Map<Integer, Integer> statuses = new TreeMap<>();
        List<String> wrong = new ArrayList<>();
        for (Bad b : corpus) {
            Http.Answer a = b.chunked()
                    ? alice.rawChunked(b.path(), b.contentType(), () -> new ByteArrayInputStream(b.body()))
                    : alice.raw(b.method(), b.path(), b.contentType(), b.body(), b.headers());
            statuses.merge(a.status(), 1, Integer::sum);
            if (a.status() < 400 || a.status() > 499) {
                wrong.add(b.name() + ": answered " + a.status() + " " + abbreviate(a.text()));
                continue;
            }
            String problem = ProblemCheck.violation(a);
            if (problem != null) {
                wrong.add(b.name() + ": " + problem + ": " + abbreviate(a.text()));
            }
        }
        FaultRig.sleep(ofMillis(1500)); // an outbox entry would be published within this
        long jobsAfter = r.system.sqlLong("select count(*) from job") - jobs;
        long outboxAfter = r.system.sqlLong("select count(*) from outbox") - outbox;
        long keysAfter = r.system.sqlLong("select count(*) from idempotency_key") - keys;
        long historyAfter = r.system.sqlLong("select count(*) from job_state_history") - history;
        long publishedAfter = r.observer.jobMessageDeliveries() - published;
        long forgeAfter = r.system.forges().stream()
                        .mapToLong(f -> f.admin().state().calls().received())
                        .sum()
                - forgeCalls;
        int ready = new Http(r.system.gateway(0).managementUrl(), null)
                .get("/actuator/health/readiness")
                .status();
        // jobs a wrongly accepted bad request created would count against alice's queued cap later: cancel them
        for (JsonNode job :
                alice.get("/api/v1/jobs?status=QUEUED,RUNNING&limit=100").json().path("items")) {
            if (!job.path("spec").path("prompt").asString("").startsWith("s11ok")) {
                alice.delete("/api/v1/jobs/" + job.path("id").asString());
            }
        }
        good.submitOne(); // still serving
        Verdict v = r.verdict("scenario 11", good, List.of());
        wrong.forEach(w -> v.violation("bad request " + w));
        v.require(corpus.size() >= 50, "corpus of " + corpus.size() + " requests, at least 50 wanted")
                .require(
                        jobsAfter == 0 && outboxAfter == 0 && keysAfter == 0 && historyAfter == 0,
                        "stored by bad requests: " + jobsAfter + " jobs, " + outboxAfter + " outbox entries, "
                                + keysAfter + " idempotency keys, " + historyAfter + " history rows")
                .require(publishedAfter == 0, publishedAfter + " job messages published by bad requests")
                .require(forgeAfter == 0, forgeAfter + " Forge calls caused by bad requests")
                .require(ready == 200, "readiness answers " + ready + " after the corpus")
                .expectFailures(Map.of())
                .note("bad requests " + corpus.size() + " -> by status " + statuses + "; not a clean 4xx problem "
                        + wrong.size() + "; rows stored " + (jobsAfter + outboxAfter + keysAfter + historyAfter)
                        + ", job messages published " + publishedAfter + ", readiness " + ready);
        v.reportAndAssert();
    }

    @Test
    @Order(2)
    @Scenario(value = 12, title = "access: keys, other keys' jobs, WebSocket")
    @Timeout(value = 10, unit = TimeUnit.MINUTES)
    void nobodyReachesWhatIsNotTheirsAndRefusalsDoNotTellWhetherItExists() {
        FaultRig r = rig();
        String base = r.system.gateway(0).baseUrl();
        Http alice = r.system.http(0, ALICE_KEY);
        Http bob = r.system.http(0, BOB_KEY);
        Workload aliceJobs = r.workload("s12alice", Workload.Settings.steady(ofMillis(100)));
        List<String> problems = new ArrayList<>();
        int[] probes = {0};

        String x = aliceJobs.submitOne().id;
        aliceJobs.awaitSettled(ofSeconds(30));
        String random = UUID.randomUUID().toString();

        // no key, wrong key, wrong scheme, key in the URL: 401, and the same 401 for an existing and a random id
        Map<String, Http> strangers = new LinkedHashMap<>();
        strangers.put("no key", new Http(base, null));
        strangers.put(
                "wrong key",
                new Http(base, "fq_wrong_" + UUID.randomUUID().toString().replace("-", "")));
        strangers.put("empty key", new Http(base, ""));
        for (Map.Entry<String, Http> s : strangers.entrySet()) {
            for (String[] call : ownCalls(x)) {
                probes[0]++;
                Http.Answer a =
                        s.getValue().raw(call[0], call[1], call[2], call[3] == null ? null : utf8(call[3]), Map.of());
                Http.Answer ref = s.getValue()
                        .raw(
                                call[0],
                                call[1].replace(x, random),
                                call[2],
                                call[3] == null ? null : utf8(call[3]),
                                Map.of());
                expectRefusal(problems, s.getKey() + " " + call[0] + " " + call[1], a, ref, 401, x, random);
                if (a.status() == 401 && a.header("WWW-Authenticate") == null) {
                    problems.add(s.getKey() + " " + call[0] + " " + call[1] + ": 401 without WWW-Authenticate");
                }
            }
        }
        for (Map.Entry<String, String> h : Map.of(
                        "Basic scheme", "Basic " + ALICE_KEY, "token without scheme", ALICE_KEY)
                .entrySet()) {
            probes[0]++;
            Http.Answer a = new Http(base, null)
                    .raw("GET", "/api/v1/jobs/" + x, null, null, Map.of("Authorization", h.getValue()));
            expectStatus(problems, h.getKey(), a, 401);
        }
        probes[0]++;
        expectStatus(
                problems,
                "key as query parameter",
                new Http(base, null)
                        .raw(
                                "GET",
                                "/api/v1/jobs/" + x + "?apiKey=" + ALICE_KEY + "&api_key=" + ALICE_KEY,
                                null,
                                null,
                                Map.of()),
                401);

        // another key's job: exactly the answer for a job that does not exist
        for (String[] call : List.of(
                new String[] {"GET", "/api/v1/jobs/" + x},
                new String[] {"GET", "/api/v1/jobs/" + x + "/images/0"},
                new String[] {"DELETE", "/api/v1/jobs/" + x})) {
            probes[0]++;
            Http.Answer a = bob.raw(call[0], call[1], null, null, Map.of());
            Http.Answer ref = bob.raw(call[0], call[1].replace(x, random), null, null, Map.of());
            expectRefusal(problems, "bob " + call[0] + " " + call[1], a, ref, 404, x, random);
        }
        probes[0]++;
        if (listedIds(bob).contains(x)) {
            problems.add("bob's job list shows alice's job");
        }
        // cancelling another key's running job does nothing to it
        Workload.Submission longJob = aliceJobs.submitOneWithSteps(150);
        BrokerObserver.waitFor(
                ofSeconds(20),
                () -> "RUNNING"
                        .equals(alice.get("/api/v1/jobs/" + longJob.id)
                                .json()
                                .path("status")
                                .asString()));
        probes[0]++;
        expectStatus(
                problems,
                "bob cancels alice's running job",
                bob.raw("DELETE", "/api/v1/jobs/" + longJob.id, null, null, Map.of()),
                404);
        aliceJobs.awaitSettled(ofSeconds(30));
        JsonNode afterCancel = alice.get("/api/v1/jobs/" + longJob.id).json();
        if (!"SUCCEEDED".equals(afterCancel.path("status").asString())
                || afterCancel.path("cancelRequested").asBoolean()) {
            problems.add("alice's job after bob's cancel: " + afterCancel.path("status") + ", cancelRequested "
                    + afterCancel.path("cancelRequested"));
        }

        // a revoked key
        String carol = "fq_test_carol_" + UUID.randomUUID().toString().replace("-", "");
        r.system.operatorSql(
                "insert into api_key (id, name, key_hash) values (gen_random_uuid(), 'carol', "
                        + "sha256(convert_to(?, 'UTF8')))",
                carol);
        Http carolHttp = new Http(base, carol);
        probes[0]++;
        expectStatus(
                problems, "carol before revocation", carolHttp.raw("GET", "/api/v1/jobs", null, null, Map.of()), 200);
        Http.Answer carolJob = carolHttp.post("/api/v1/jobs", ForgeQueueSystem.job("s12carol", 5));
        expectStatus(problems, "carol submits before revocation", carolJob, 202);
        String carolJobId =
                carolJob.status() == 202 ? carolJob.json().path("id").asString() : random;
        r.system.operatorSql("update api_key set disabled_at = now() where name = 'carol'");
        FaultRig.sleep(ofMillis(1500)); // the gateway caches a key for 1 s here (60 s by default)
        for (String[] call : ownCalls(carolJobId)) {
            probes[0]++;
            Http.Answer a = carolHttp.raw(call[0], call[1], call[2], call[3] == null ? null : utf8(call[3]), Map.of());
            expectStatus(problems, "revoked key " + call[0] + " " + call[1], a, 401);
        }
        probes[0]++;
        try (WsClient ws = WsClient.open(base)) {
            ws.send(Map.of("type", "auth", "apiKey", carol));
            expectWsRefusal(problems, "revoked key over WebSocket", ws, "unauthorized", 4401);
        }

        // WebSocket: another key's job is answered like a job that does not exist, and never streamed
        try (WsClient bobWs = WsClient.connect(base, BOB_KEY)) {
            probes[0]++;
            bobWs.subscribe(x, null);
            JsonNode own = bobWs.await(
                    f -> f.path("type").asString("").equals("error")
                            && x.equals(f.path("jobId").asString(null)),
                    ofSeconds(5));
            bobWs.subscribe(random, null);
            JsonNode none = bobWs.await(
                    f -> f.path("type").asString("").equals("error")
                            && random.equals(f.path("jobId").asString(null)),
                    ofSeconds(5));
            if (!"job-not-found".equals(own.path("code").asString(""))
                    || !Http.JSON
                            .writeValueAsString(own)
                            .replace(x, "<id>")
                            .equals(Http.JSON.writeValueAsString(none).replace(random, "<id>"))) {
                problems.add("bob's WebSocket subscribe to alice's job: " + own + " vs a random id: " + none);
            }
            probes[0]++;
            bobWs.subscribeAll(Map.of(x, 0L));
            Set<String> streamed = new HashSet<>(List.of(x, longJob.id));
            for (int i = 0; i < 3; i++) {
                streamed.add(aliceJobs.submitOneWithSteps(30).id);
            }
            aliceJobs.awaitSettled(ofSeconds(30));
            FaultRig.sleep(ofSeconds(1));
            for (JsonNode f : bobWs.frames()) {
                String text = Http.JSON.writeValueAsString(f);
                for (String id : streamed) {
                    if (text.contains(id)
                            && !(f.path("type").asString("").equals("error")
                                    && f.path("code").asString("").equals("job-not-found"))) {
                        problems.add("bob's WebSocket got a frame about alice's job: " + abbreviate(text));
                    }
                }
            }
        }
        probes[0]++;
        try (WsClient silent = WsClient.open(base)) {
            expectWsRefusal(problems, "no auth within the 2 s timeout", silent, "auth-timeout", 4408);
        }
        // PROTOCOL.md: an unknown key gets an error frame 'unauthorized', then the close 4401; every time
        int attempts = 20;
        for (int i = 0; i < attempts; i++) {
            probes[0]++;
            try (WsClient wrongKey = WsClient.open(base)) {
                wrongKey.send(Map.of("type", "auth", "apiKey", "fq_wrong_" + UUID.randomUUID()));
                expectWsRefusal(
                        problems,
                        "wrong key over WebSocket (attempt " + (i + 1) + " of " + attempts + ")",
                        wrongKey,
                        "unauthorized",
                        4401);
            }
        }
        probes[0]++;
        try (WsClient early = WsClient.open(base)) {
            early.subscribe(x, null);
            expectWsRefusal(problems, "subscribe before auth", early, "unauthorized", 4401);
        }
        probes[0]++;
        try (WsClient inUrl = WsClient.open(base + "/ws?apiKey=" + ALICE_KEY + "&x=")) {
            inUrl.subscribe(x, null);
            expectWsRefusal(problems, "key in the WebSocket URL", inUrl, "unauthorized", 4401);
        } catch (RuntimeException e) {
            // a refused handshake is a refusal too
        }
        probes[0]++;
        try (WsClient header = WsClient.connectWithHeader(base, "fq_wrong_" + UUID.randomUUID())) {
            header.subscribe(x, null);
            int code = header.awaitClose(ofSeconds(5));
            if (code != 4401
                    || header.frames().stream()
                            .anyMatch(f -> f.path("type").asString("").equals("snapshot"))) {
                problems.add("wrong key in the handshake header: close " + code + ", frames " + header.frames());
            }
        } catch (RuntimeException e) {
            // the handshake itself was refused (401): fine
        }

        Verdict v = r.verdict("scenario 12", aliceJobs, List.of());
        problems.forEach(v::violation);
        v.expectFailures(Map.of())
                .note("access probes " + probes[0] + ", wrongly answered " + problems.size()
                        + " (no key / wrong / revoked key -> 401, another key's job -> same 404 as a random id, "
                        + "WebSocket -> 4401/4408/job-not-found)");
        v.reportAndAssert();
    }

    @Test
    @Order(3)
    @Scenario(value = 13, title = "flood from one key (429), others unaffected")
    @Timeout(value = 10, unit = TimeUnit.MINUTES)
    void aFloodFromOneKeyGets429sWhileOtherKeysAreServed() throws Exception {
        FaultRig r = rig();
        Workload flood = r.workload(
                "s13flood",
                Workload.Settings.steady(ofMillis(0)).withSteps(20, 30).withoutRetries());
        Workload other = new Workload(
                "s13bob",
                () -> r.system.liveHttp(BOB_KEY),
                Workload.Settings.steady(ofMillis(100)).withSteps(5, 10),
                13);
        int threads = 8;
        int each = FaultProfile.pick(15, 40);
        ExecutorService pool = Executors.newFixedThreadPool(threads + 1);
        List<Future<?>> futures = new ArrayList<>();
        long started = System.nanoTime();
        for (int t = 0; t < threads; t++) {
            futures.add(pool.submit(() -> {
                for (int i = 0; i < each; i++) {
                    flood.submitOne();
                }
            }));
        }
        futures.add(pool.submit(() -> {
            for (int i = 0; i < 10; i++) {
                other.submitOne();
                AppProcess.sleep(100);
            }
        }));
        for (Future<?> f : futures) {
            f.get(5, TimeUnit.MINUTES);
        }
        double floodSeconds = (System.nanoTime() - started) / 1e9;
        pool.shutdown();
        // the flooding client gives up its jobs
        Http alice = r.system.http(0, ALICE_KEY);
        for (String id : flood.acceptedIds()) {
            alice.attemptDelete("/api/v1/jobs/" + id);
        }

        Verdict bobs = Verdict.check(
                "scenario 13 (other key)", r.system, other, BOB_KEY, r.observer, List.of(), FaultProfile.settle());
        Verdict v = r.verdict("scenario 13", flood, List.of());
        int accepted = flood.answerCounts().getOrDefault(202, 0);
        int limited = flood.answerCounts().getOrDefault(429, 0);
        v.require(limited > 0, "the flood got no 429")
                .require(
                        flood.answerCounts().keySet().stream().allMatch(s -> s == 202 || s == 429),
                        "flood answers " + flood.answerCounts())
                .require(
                        other.answerCounts().equals(Map.of(202, 10)), "the other key's answers " + other.answerCounts())
                .require(bobs.succeeded == 10, "the other key's jobs: " + bobs.figures())
                .note(String.format(
                        "flood %d submissions in %.1f s from %d threads -> 202 x %d, 429 x %d (cap %d queued); "
                                + "other key 10 submissions -> %s, %s",
                        threads * each,
                        floodSeconds,
                        threads,
                        accepted,
                        limited,
                        MAX_QUEUED,
                        other.answerCounts(),
                        bobs.figures()));
        bobs.violations.forEach(x -> v.violation("other key: " + x));
        v.reportAndAssert();
    }

    // ---------- helpers ----------

    /** Calls on one job and on the collection: method, path, content type, body. */
    private static List<String[]> ownCalls(String jobId) {
        String body = "{\"prompt\":\"a stranger's job\",\"width\":64,\"height\":64,\"steps\":5}";
        return List.of(
                new String[] {"GET", "/api/v1/jobs/" + jobId, null, null},
                new String[] {"GET", "/api/v1/jobs/" + jobId + "/images/0", null, null},
                new String[] {"DELETE", "/api/v1/jobs/" + jobId, null, null},
                new String[] {"GET", "/api/v1/jobs", null, null},
                new String[] {"GET", "/api/v1/queue", null, null},
                new String[] {"POST", "/api/v1/jobs", "application/json", body});
    }

    /** {@code a} must have status {@code status}, be a clean problem, and equal {@code ref} up to the ids. */
    private static void expectRefusal(
            List<String> problems, String what, Http.Answer a, Http.Answer ref, int status, String id, String refId) {
        expectStatus(problems, what, a, status);
        String one = a.text().replace(id, "<id>");
        String other = ref.text().replace(refId, "<id>");
        if (a.status() != ref.status() || !one.equals(other)) {
            problems.add(what + ": differs from the answer for a job that does not exist: " + abbreviate(a.toString())
                    + " vs " + abbreviate(ref.toString()));
        }
    }

    private static void expectStatus(List<String> problems, String what, Http.Answer a, int status) {
        if (a.status() != status) {
            problems.add(what + ": answered " + a.status() + ", expected " + status + ": " + abbreviate(a.text()));
            return;
        }
        if (status >= 400) {
            String problem = ProblemCheck.violation(a);
            if (problem != null) {
                problems.add(what + ": " + problem);
            }
        }
    }

    private static void expectWsRefusal(List<String> problems, String what, WsClient ws, String code, int closeCode) {
        int closed = ws.awaitClose(ofSeconds(6));
        boolean error = ws.frames().stream()
                .anyMatch(f -> f.path("type").asString("").equals("error")
                        && f.path("code").asString("").equals(code));
        boolean leaked = ws.frames().stream()
                .anyMatch(f -> f.path("type").asString("").equals("snapshot")
                        || f.path("type").asString("").equals("authenticated"));
        if (closed != closeCode || !error || leaked) {
            problems.add(what + ": close " + closed + " (expected " + closeCode + "), frames " + ws.frames());
        }
    }

    private static Set<String> listedIds(Http http) {
        Set<String> ids = new HashSet<>();
        String cursor = null;
        do {
            JsonNode page = http.get("/api/v1/jobs?limit=100" + (cursor == null ? "" : "&cursor=" + cursor))
                    .json();
            page.path("items").forEach(j -> ids.add(j.path("id").asString()));
            cursor = page.hasNonNull("nextCursor") ? page.path("nextCursor").asString() : null;
        } while (cursor != null);
        return ids;
    }

    private static String abbreviate(String s) {
        return s.length() > 240 ? s.substring(0, 240) + "..." : s;
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] bytes(String before, byte[] middle, String after) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(utf8(before));
        out.writeBytes(middle);
        out.writeBytes(utf8(after));
        return out.toByteArray();
    }

    private static byte[] gzip(String s) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(utf8(s));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return out.toByteArray();
    }

    /** A job body with one field replaced or added ({@code fieldJson} is the raw JSON member). */
    private static String job(String fieldJson) {
        return "{\"prompt\":\"a red fox\",\"width\":64,\"height\":64,\"steps\":5," + fieldJson + "}";
    }

    /** A body with only these members. */
    private static String only(String members) {
        return "{" + members + "}";
    }

    private static List<Bad> corpus(String existingJob) {
        List<Bad> c = new ArrayList<>();
        String p = "/api/v1/jobs";
        String json = "application/json";
        // malformed JSON
        for (String[] t : new String[][] {
            {"unclosed object", "{"},
            {"unterminated string", "{\"prompt\": \"a fox"},
            {"single quotes", "{'prompt': 'a fox'}"},
            {"not JSON", "prompt=a fox"},
            {"empty body", ""},
            {"null", "null"},
            {"array", "[]"},
            {"bare string", "\"a fox\""},
            {"trailing comma", "{\"prompt\":\"a fox\",}"},
            {"missing comma", "{\"prompt\":\"a fox\" \"steps\":5}"},
            {"two documents", "{\"prompt\":\"a fox\"}{\"prompt\":\"an owl\"}"},
            {"trailing garbage", "{\"prompt\":\"a fox\"} trailing"},
            {"comment", "{/* c */\"prompt\":\"a fox\"}"},
            {"NaN", job("\"cfgScale\":NaN")},
            {"deep nesting", "{\"prompt\":\"a fox\",\"x\":" + "[".repeat(3000) + "]".repeat(3000) + "}"}
        }) {
            c.add(new Bad(t[0], "POST", p, json, utf8(t[1]), Map.of(), false));
        }
        c.add(new Bad(
                "invalid UTF-8",
                "POST",
                p,
                json,
                bytes("{\"prompt\":\"", new byte[] {(byte) 0xC3, (byte) 0x28}, "\"}"),
                Map.of(),
                false));
        c.add(new Bad(
                "overlong UTF-8",
                "POST",
                p,
                json,
                bytes("{\"prompt\":\"", new byte[] {(byte) 0xC0, (byte) 0xAF}, "\"}"),
                Map.of(),
                false));
        c.add(new Bad(
                "gzip body not declared readable",
                "POST",
                p,
                json,
                gzip("{\"prompt\":\"a fox\"}"),
                Map.of("Content-Encoding", "gzip"),
                false));
        // wrong types
        for (String[] t : new String[][] {
            {"prompt number", only("\"prompt\":123")},
            {"prompt object", only("\"prompt\":{\"text\":\"a fox\"}")},
            {"prompt array", only("\"prompt\":[\"a fox\"]")},
            {"prompt boolean", only("\"prompt\":true")},
            {"width string", only("\"prompt\":\"a fox\",\"width\":\"64\"")},
            {"width fraction", only("\"prompt\":\"a fox\",\"width\":64.5")},
            {"steps boolean", only("\"prompt\":\"a fox\",\"steps\":true")},
            {"seed string", job("\"seed\":\"random\"")},
            {"cfgScale string", job("\"cfgScale\":\"7\"")},
            {"batchSize array", job("\"batchSize\":[1]")},
            {"pool number", job("\"pool\":5")},
            {"sampler object", job("\"sampler\":{}")}
        }) {
            c.add(new Bad(t[0], "POST", p, json, utf8(t[1]), Map.of(), false));
        }
        // missing, huge, negative and out-of-range numbers
        for (String[] t : new String[][] {
            {"no prompt", only("\"width\":64,\"height\":64")},
            {"empty prompt", only("\"prompt\":\"\"")},
            {"blank prompt", only("\"prompt\":\"   \"")},
            {"null prompt", only("\"prompt\":null")},
            {"width 10^10", only("\"prompt\":\"a fox\",\"width\":10000000000")},
            {"width 2^31", only("\"prompt\":\"a fox\",\"width\":2147483648")},
            {"seed above long", job("\"seed\":99999999999999999999")},
            {"seed above max", job("\"seed\":4294967295")},
            {"seed -2", job("\"seed\":-2")},
            {"steps -1", only("\"prompt\":\"a fox\",\"steps\":-1")},
            {"steps 0", only("\"prompt\":\"a fox\",\"steps\":0")},
            {"steps 151", only("\"prompt\":\"a fox\",\"steps\":151")},
            {"width -64", only("\"prompt\":\"a fox\",\"width\":-64")},
            {"width 0", only("\"prompt\":\"a fox\",\"width\":0")},
            {"height 4096", only("\"prompt\":\"a fox\",\"height\":4096")},
            {"cfgScale 0.5", job("\"cfgScale\":0.5")},
            {"cfgScale 1e400", job("\"cfgScale\":1e400")},
            {"batchSize 9", job("\"batchSize\":9")},
            {"batchSize 0", job("\"batchSize\":0")},
            {"too many pixels", only("\"prompt\":\"a fox\",\"width\":2048,\"height\":2048,\"batchSize\":2")}
        }) {
            c.add(new Bad(t[0], "POST", p, json, utf8(t[1]), Map.of(), false));
        }
        // sizes not a multiple of 8
        for (String[] t : new String[][] {
            {"width 100", only("\"prompt\":\"a fox\",\"width\":100")},
            {"height 513", only("\"prompt\":\"a fox\",\"height\":513")},
            {"65 x 65", only("\"prompt\":\"a fox\",\"width\":65,\"height\":65")}
        }) {
            c.add(new Bad(t[0], "POST", p, json, utf8(t[1]), Map.of(), false));
        }
        // prompts over the limit and unicode edge cases
        for (String[] t : new String[][] {
            {"prompt 2001 chars", only("\"prompt\":\"" + "a".repeat(2001) + "\"")},
            {"negative prompt 2001 chars", job("\"negativePrompt\":\"" + "b".repeat(2001) + "\"")},
            {"prompt 1001 emoji (2002 UTF-16 units)", only("\"prompt\":\"" + "\uD83E\uDD8A".repeat(1001) + "\"")},
            {"prompt 2001 CJK", only("\"prompt\":\"" + "\u72D0".repeat(2001) + "\"")},
            {"lone high surrogate", only("\"prompt\":\"a fox \\ud800\"")},
            {"lone low surrogate", only("\"prompt\":\"\\udc00 a fox\"")},
            {"NUL character", only("\"prompt\":\"a fox\\u0000\"")},
            {"BEL character", only("\"prompt\":\"a fox\\u0007\"")},
            {"ANSI escape", only("\"prompt\":\"\\u001b[31ma fox\"")},
            {"DEL character", only("\"prompt\":\"a fox\\u007f\"")},
            {"C1 control NEL", only("\"prompt\":\"a fox\\u0085\"")},
            {"sampler with umlaut", job("\"sampler\":\"E\u00fcler a\"")},
            {"sampler with RTL override", job("\"sampler\":\"Euler\u202Ea\"")},
            {"pool with zero-width space", job("\"pool\":\"default\u200B\"")},
            {"pool with Cyrillic e", job("\"pool\":\"d\u0435fault\"")}
        }) {
            c.add(new Bad(t[0], "POST", p, json, utf8(t[1]), Map.of(), false));
        }
        // oversized bodies
        c.add(new Bad(
                "70 KB body",
                "POST",
                p,
                json,
                utf8(only("\"prompt\":\"a fox\",\"negativePrompt\":\"" + "x".repeat(70_000) + "\"")),
                Map.of(),
                false));
        c.add(new Bad(
                "1 MB body",
                "POST",
                p,
                json,
                utf8(only("\"prompt\":\"" + "x".repeat(1_000_000) + "\"")),
                Map.of(),
                false));
        c.add(new Bad(
                "100 KB chunked body",
                "POST",
                p,
                json,
                utf8(only("\"prompt\":\"" + "x".repeat(100_000) + "\"")),
                Map.of(),
                true));
        // wrong content types
        String body = only("\"prompt\":\"a fox\"");
        for (String[] t : new String[][] {
            {"text/plain", "text/plain"},
            {"application/xml", "application/xml"},
            {"form", "application/x-www-form-urlencoded"},
            {"multipart", "multipart/form-data; boundary=x"},
            {"no content type", null},
            {"nonsense content type", "json please"}
        }) {
            c.add(new Bad("content type " + t[0], "POST", p, t[1], utf8(body), Map.of(), false));
        }
        // unknown fields, including attempts to set what the server owns
        for (String[] t : new String[][] {
            {"unknown field", job("\"hack\":true")},
            {"status set by client", job("\"status\":\"SUCCEEDED\"")},
            {"owner set by client", job("\"owner\":\"bob\"")},
            {"id set by client", job("\"id\":\"" + UUID.randomUUID() + "\"")},
            {"ticket set by client", job("\"ticket\":1")},
            {"misspelled field", only("\"promt\":\"a fox\"")}
        }) {
            c.add(new Bad(t[0], "POST", p, json, utf8(t[1]), Map.of(), false));
        }
        // injection strings where they do not belong
        for (String[] t : new String[][] {
            {"SQL in pool", job("\"pool\":\"default'; DROP TABLE job; --\"")},
            {"script in sampler", job("\"sampler\":\"<script>alert(1)</script>\"")},
            {"shell in scheduler", job("\"scheduler\":\"$(rm -rf /)\"")},
            {"path traversal in pool", job("\"pool\":\"../default\"")},
            {"upper-case pool", job("\"pool\":\"DEFAULT\"")},
            {"SQL in sampler", job("\"sampler\":\"Euler' OR '1'='1\"")}
        }) {
            c.add(new Bad(t[0], "POST", p, json, utf8(t[1]), Map.of(), false));
        }
        c.add(new Bad(
                "bad Idempotency-Key (spaces)",
                "POST",
                p,
                json,
                utf8(body),
                Map.of("Idempotency-Key", "a key with spaces"),
                false));
        c.add(new Bad(
                "bad Idempotency-Key (300 chars)",
                "POST",
                p,
                json,
                utf8(body),
                Map.of("Idempotency-Key", "k".repeat(300)),
                false));
        // other endpoints: bad ids, parameters and methods
        for (String[] t : new String[][] {
            {"SQL in job id", "GET", p + "/1'%20OR%20'1'='1"},
            {"not a UUID", "GET", p + "/not-a-uuid"},
            {"cancel not a UUID", "DELETE", p + "/..%2F..%2Fetc"},
            {"image index not a number", "GET", p + "/" + existingJob + "/images/zero"},
            {"image index negative", "GET", p + "/" + existingJob + "/images/-1"},
            {"image index huge", "GET", p + "/" + existingJob + "/images/99999999999"},
            {"SQL in status filter", "GET", p + "?status=QUEUED'%20OR%201=1--"},
            {"unknown status filter", "GET", p + "?status=DONE"},
            {"SQL in cursor", "GET", p + "?cursor='%20OR%201=1--"},
            {"limit -1", "GET", p + "?limit=-1"},
            {"limit 1000000", "GET", p + "?limit=1000000"},
            {"limit not a number", "GET", p + "?limit=abc"},
            {"PUT on the collection", "PUT", p},
            {"PATCH on a job", "PATCH", p + "/" + existingJob},
            {"DELETE on the collection", "DELETE", p},
            {"unknown resource", "GET", "/api/v1/secrets"}
        }) {
            c.add(new Bad(t[0], t[1], t[2], null, null, Map.of(), false));
        }
        return c;
    }
}
