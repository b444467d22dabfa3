package io.forgequeue.systemtest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import tools.jackson.databind.JsonNode;

/**
 * What the scheduler did, as PostgreSQL recorded it (read-only, like {@link ForgeQueueSystem#sql}): every hand-out
 * is a {@code job_state_history} row with reason {@code assigned} (QUEUED to QUEUED, naming the worker), written in
 * the same statement as the assignment, so the rows' ids give the order of the scheduler's decisions. Also creates
 * API keys with quotas the way an operator does without the admin API (SQL into {@code api_key}, README).
 */
final class ScheduleTrace {

    private final ForgeQueueSystem system;

    ScheduleTrace(ForgeQueueSystem system) {
        this.system = system;
    }

    /** One hand-out: the assignment of a job to a worker, in the scheduler's order ({@code id}). */
    record HandOut(long id, String jobId, String worker, int attempt, Instant at) {}

    /**
     * A job as stored: who submitted it, when it was created, started and finished (started and finished come from
     * the worker's events), which worker ran its current attempt, what it asked for and what ran.
     */
    record Run(
            String id,
            String key,
            String status,
            int priority,
            Instant createdAt,
            Instant startedAt,
            Instant finishedAt,
            String worker,
            int attempt,
            String checkpoint,
            String modelThatRan,
            String errorCode,
            String errorMessage,
            long images,
            long terminalMoves) {

        /** Seconds from submission to start. */
        double waitSeconds() {
            return Duration.between(createdAt, startedAt).toNanos() / 1e9;
        }

        /** GPU seconds of its attempt that overlap [from, to]. */
        double gpuSecondsWithin(Instant from, Instant to) {
            if (startedAt == null || finishedAt == null) {
                return 0;
            }
            Instant a = startedAt.isAfter(from) ? startedAt : from;
            Instant b = finishedAt.isBefore(to) ? finishedAt : to;
            return b.isAfter(a) ? Duration.between(a, b).toNanos() / 1e9 : 0;
        }
    }

    /**
     * Adds an API key the way an operator does with SQL, with a maximum priority (0 high, 1 normal, 2 low; null =
     * the gateway's default) and returns the secret.
     */
    String createKey(String name, Integer maxPriority) {
        String secret = "fq_test_" + name.replaceAll("[^a-z0-9]", "") + "_"
                + UUID.randomUUID().toString().replace("-", "");
        system.operatorSql(
                "insert into api_key (id, name, key_hash, key_prefix, max_priority) values (?, ?, ?, ?, ?)",
                UUID.randomUUID(),
                name,
                sha256(secret),
                secret.substring(0, 12),
                maxPriority == null ? null : maxPriority.shortValue());
        return secret;
    }

    /** The id of the newest history row (anything recorded later has a greater id). */
    long lastHistoryId() {
        return system.sqlLong("select coalesce(max(id), 0) from job_state_history");
    }

    /** The id of the history row written when {@code jobId} was submitted. */
    long submittedRowId(String jobId) {
        return system.sqlLong(
                "select id from job_state_history where job_id = ? and reason = 'submitted'", UUID.fromString(jobId));
    }

    /** Every hand-out recorded after history row {@code afterId}, in the scheduler's order. */
    List<HandOut> handOutsAfter(long afterId) {
        List<HandOut> out = new ArrayList<>();
        for (Map<String, Object> r : system.sql("""
                select id, job_id, worker_id, attempt, recorded_at from job_state_history
                where reason = 'assigned' and id > ? order by id""", afterId)) {
            out.add(new HandOut(
                    ((Number) r.get("id")).longValue(),
                    r.get("job_id").toString(),
                    (String) r.get("worker_id"),
                    ((Number) r.get("attempt")).intValue(),
                    instant(r.get("recorded_at"))));
        }
        return out;
    }

    /** The hand-outs of one job, in order. */
    List<HandOut> handOutsOf(String jobId) {
        return handOutsAfter(0).stream().filter(h -> h.jobId().equals(jobId)).toList();
    }

    /** The stored jobs, by id, in the order of {@code ids}. */
    Map<String, Run> runs(Collection<String> ids) {
        Map<String, Run> byId = new LinkedHashMap<>();
        UUID[] uuids = ids.stream().map(UUID::fromString).toArray(UUID[]::new);
        List<Map<String, Object>> rows;
        try (var c = system.postgres().connect();
                var ps = c.prepareStatement("""
                select j.id, k.name as key, j.status, j.priority, j.created_at, j.started_at, j.finished_at, j.worker_id,
                       j.attempt, j.checkpoint, j.metadata ->> 'sdModelName' as model, j.error_code, j.error_message,
                       (select count(*) from job_image i where i.job_id = j.id) as images,
                       (select count(*) from job_state_history h where h.job_id = j.id
                          and h.to_status in ('SUCCEEDED', 'FAILED', 'CANCELLED')) as terminal_moves
                from job j join api_key k on k.id = j.owner_key_id
                where j.id = any(?)""")) {
            ps.setArray(1, c.createArrayOf("uuid", uuids));
            rows = new ArrayList<>();
            try (var rs = ps.executeQuery()) {
                while (rs.next()) {
                    Map<String, Object> row = new LinkedHashMap<>();
                    for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
                        row.put(rs.getMetaData().getColumnLabel(i), rs.getObject(i));
                    }
                    rows.add(row);
                }
            }
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException(e);
        }
        Map<String, Run> found = new LinkedHashMap<>();
        for (Map<String, Object> r : rows) {
            found.put(
                    r.get("id").toString(),
                    new Run(
                            r.get("id").toString(),
                            (String) r.get("key"),
                            (String) r.get("status"),
                            ((Number) r.get("priority")).intValue(),
                            instant(r.get("created_at")),
                            instant(r.get("started_at")),
                            instant(r.get("finished_at")),
                            (String) r.get("worker_id"),
                            ((Number) r.get("attempt")).intValue(),
                            (String) r.get("checkpoint"),
                            (String) r.get("model"),
                            (String) r.get("error_code"),
                            (String) r.get("error_message"),
                            ((Number) r.get("images")).longValue(),
                            ((Number) r.get("terminal_moves")).longValue()));
        }
        for (String id : ids) {
            assertThat(found).as("job %s is stored", id).containsKey(id);
            byId.put(id, found.get(id));
        }
        return byId;
    }

    /** Waits until every job in {@code ids} is in a terminal state (SUCCEEDED, FAILED or CANCELLED). */
    void awaitFinished(Collection<String> ids, Duration timeout) {
        UUID[] uuids = ids.stream().map(UUID::fromString).toArray(UUID[]::new);
        await().atMost(timeout).pollInterval(Duration.ofMillis(250)).untilAsserted(() -> {
            long open;
            try (var c = system.postgres().connect();
                    var ps = c.prepareStatement(
                            "select count(*) from job where id = any(?) and status not in ('SUCCEEDED', 'FAILED', 'CANCELLED')")) {
                ps.setArray(1, c.createArrayOf("uuid", uuids));
                try (var rs = ps.executeQuery()) {
                    rs.next();
                    open = rs.getLong(1);
                }
            }
            assertThat(open).as("jobs not finished yet").isZero();
        });
    }

    /** Waits until no job of the system is queued or running (the previous scenario left nothing behind). */
    void awaitIdle(Duration timeout) {
        await().atMost(timeout)
                .pollInterval(Duration.ofMillis(250))
                .until(() -> system.sqlLong("select count(*) from job where status in ('QUEUED', 'RUNNING')") == 0);
    }

    /** How many jobs hold a slot of {@code worker} (assigned to it, running or not). */
    long heldBy(String worker) {
        return system.sqlLong("select count(*) from job where assigned_worker = ?", worker);
    }

    /** How many of {@code worker}'s assignments have not started yet (its lookahead). */
    long assignedNotStartedOn(String worker) {
        return system.sqlLong("select count(*) from job where assigned_worker = ? and status = 'QUEUED'", worker);
    }

    /** Jobs waiting for a hand-out (QUEUED, not assigned). */
    long waitingForHandOut() {
        return system.sqlLong("select count(*) from job where status = 'QUEUED' and assigned_worker is null");
    }

    /**
     * How two keys shared the GPUs: where B's jobs came among the hand-outs that followed B's first submission
     * (1-based), and each key's GPU seconds from the start of B's first job to the end of B's last (the period both
     * keys had work), clipped to that period.
     */
    record Sharing(List<Integer> bTurns, double gpuA, double gpuB, double seconds, List<String> order) {

        /** The larger GPU time over the smaller. */
        double ratio() {
            return Math.max(gpuA, gpuB) / Math.min(gpuA, gpuB);
        }

        @Override
        public String toString() {
            return String.format(
                    "B's jobs were hand-outs %s after B's submission; over %.2f s while both waited: "
                            + "GPU s A %.2f, B %.2f (ratio %.2f); hand-out order %s",
                    bTurns, seconds, gpuA, gpuB, ratio(), order);
        }
    }

    /** Waits until every job of A and B finished, then says how they shared the GPUs. */
    Sharing awaitSharing(List<String> aJobs, List<String> bJobs, Duration timeout) {
        List<String> all = new ArrayList<>(aJobs);
        all.addAll(bJobs);
        awaitFinished(all, timeout);
        return sharing(aJobs, bJobs);
    }

    /**
     * Issue 16's fairness acceptance: every job of A and B succeeded, B's jobs were among the 8 hand-outs after B's
     * submission, and while both keys had work their GPU seconds are within 20 % of each other.
     */
    void assertSharedFairly(List<String> aJobs, List<String> bJobs, Sharing sharing) {
        assertSharedFairly(aJobs, bJobs, sharing, bJobs.size(), 8, 1.2);
    }

    /**
     * As {@link #assertSharedFairly(List, List, Sharing)}, with B's first {@code firstB} jobs among the {@code within}
     * hand-outs after B's submission and the GPU seconds' ratio at most {@code maxRatio}.
     */
    void assertSharedFairly(
            List<String> aJobs, List<String> bJobs, Sharing sharing, int firstB, int within, double maxRatio) {
        List<String> all = new ArrayList<>(aJobs);
        all.addAll(bJobs);
        assertThat(runs(all).values())
                .as("every job succeeded")
                .allMatch(r -> r.status().equals("SUCCEEDED"));
        assertThat(sharing.bTurns().subList(0, firstB))
                .as("B's first %d jobs among the next %d hand-outs after B's submission", firstB, within)
                .allMatch(t -> t >= 1 && t <= within);
        assertThat(sharing.ratio())
                .as("GPU seconds while both keys wait: %s", sharing)
                .isLessThanOrEqualTo(maxRatio);
    }

    /** How key A (its jobs {@code aJobs}) and key B ({@code bJobs}, submitted later) shared the GPUs. */
    Sharing sharing(List<String> aJobs, List<String> bJobs) {
        List<String> all = new ArrayList<>(aJobs);
        all.addAll(bJobs);
        Map<String, Run> runs = runs(all);
        long bArrived = bJobs.stream().mapToLong(this::submittedRowId).min().orElseThrow();
        List<String> order =
                handOutsAfter(bArrived).stream().map(HandOut::jobId).toList();
        List<Integer> bTurns =
                bJobs.stream().map(id -> order.indexOf(id) + 1).sorted().toList();
        Instant from = bJobs.stream()
                .map(id -> runs.get(id).startedAt())
                .min(java.util.Comparator.naturalOrder())
                .orElseThrow();
        Instant to = bJobs.stream()
                .map(id -> runs.get(id).finishedAt())
                .max(java.util.Comparator.naturalOrder())
                .orElseThrow();
        double gpuA = aJobs.stream()
                .mapToDouble(id -> runs.get(id).gpuSecondsWithin(from, to))
                .sum();
        double gpuB = bJobs.stream()
                .mapToDouble(id -> runs.get(id).gpuSecondsWithin(from, to))
                .sum();
        return new Sharing(
                bTurns,
                gpuA,
                gpuB,
                Duration.between(from, to).toMillis() / 1000.0,
                order.stream()
                        .limit(12)
                        .map(id -> bJobs.contains(id) ? "B" : "A")
                        .toList());
    }

    /** Submits the jobs at the same moment, one thread each (a client posting a batch); their ids in order. */
    static List<String> submitAtOnce(Http http, List<Map<String, Object>> bodies) throws Exception {
        java.util.concurrent.ExecutorService clients = java.util.concurrent.Executors.newFixedThreadPool(bodies.size());
        try {
            java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
            List<java.util.concurrent.Future<String>> ids = new ArrayList<>();
            for (Map<String, Object> body : bodies) {
                ids.add(clients.submit(() -> {
                    go.await();
                    return submit(http, body);
                }));
            }
            go.countDown();
            List<String> out = new ArrayList<>();
            for (java.util.concurrent.Future<String> id : ids) {
                out.add(id.get());
            }
            return out;
        } finally {
            clients.shutdownNow();
        }
    }

    /** Waits until at least {@code n} jobs of the key named {@code keyName} succeeded. */
    void awaitSucceeded(String keyName, int n, Duration timeout) {
        await().atMost(timeout)
                .pollInterval(Duration.ofMillis(100))
                .until(() -> system.sqlLong(
                                "select count(*) from job j join api_key k on k.id = j.owner_key_id where k.name = ? "
                                        + "and j.status = 'SUCCEEDED'",
                                keyName)
                        >= n);
    }

    /** Submits a job and returns its id (202 expected). */
    static String submit(Http http, Map<String, Object> body) {
        Http.Answer answer = http.post("/api/v1/jobs", body);
        assertThat(answer.status())
                .as("submit %s: %s", body.get("prompt"), answer)
                .isEqualTo(202);
        return answer.json().path("id").asString();
    }

    /** A small job: {@code steps} steps of 64x64, optionally with a priority class and a checkpoint. */
    static Map<String, Object> job(String prompt, int steps, String priority, String checkpoint) {
        Map<String, Object> body = ForgeQueueSystem.job(prompt, steps);
        if (priority != null) {
            body.put("priority", priority);
        }
        if (checkpoint != null) {
            body.put("checkpoint", checkpoint);
        }
        return body;
    }

    /** The job as the REST API shows it to its owner. */
    static JsonNode view(Http http, String jobId) {
        return http.get("/api/v1/jobs/" + jobId).json();
    }

    private static Instant instant(Object value) {
        if (value == null) {
            return null;
        }
        if (value instanceof Timestamp t) {
            return t.toInstant();
        }
        if (value instanceof java.time.OffsetDateTime o) {
            return o.toInstant();
        }
        throw new IllegalStateException("not a time: " + value.getClass());
    }

    private static byte[] sha256(String secret) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Records a measured figure of a scheduling test: printed and appended to
     * {@code target/scheduling-figures.txt} (the figures are reported, the tests assert the bounds).
     */
    static void figure(String test, String text) {
        String line = Instant.now() + " " + test + ": " + text;
        System.out.println(line);
        try {
            java.nio.file.Files.writeString(
                    SystemPaths.artifactDir(".").resolve("scheduling-figures.txt"),
                    line + "\n",
                    StandardCharsets.UTF_8,
                    java.nio.file.StandardOpenOption.CREATE,
                    java.nio.file.StandardOpenOption.APPEND);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
