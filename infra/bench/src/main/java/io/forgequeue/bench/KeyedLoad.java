package io.forgequeue.bench;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import tools.jackson.databind.JsonNode;

/**
 * Load from several API keys whose figures are those of {@link FairnessFigures}, as the fairness and mixed scenarios
 * submit it: each submission is recorded with its key, the answer (its ETA) and the pool's mean job time the gateway
 * reported then (sampled from {@code GET /api/v1/queue} every second, kept for the results); afterwards the finished
 * jobs become {@link FairnessFigures.Job}s, in seconds from the first submission. Also the primer that gives a fresh
 * gateway job times before a measurement.
 */
final class KeyedLoad implements AutoCloseable {

    /** A job as submitted: whose, the answer to the POST, the gateway's mean job time then. */
    record Sent(String key, GatewayClient.Submitted answer, Double meanJobSeconds) {}

    private final BenchSystem system;
    private final String probeKey;
    private final List<Sent> sent = new CopyOnWriteArrayList<>();
    private final List<JsonNode> queueSamples = new CopyOnWriteArrayList<>();
    private final ScheduledExecutorService timer;
    private volatile Double latestMean;

    /**
     * Starts sampling the queue every second.
     *
     * @param probeKey the key the queue is read as
     * @param mean     the gateway's mean job time before the load (null: none yet)
     * @param threads  timer threads (the sampler's and those of the scenario's own submitters)
     */
    KeyedLoad(BenchSystem system, String probeKey, Double mean, int threads, String name) {
        this.system = system;
        this.probeKey = probeKey;
        this.latestMean = mean;
        this.timer = Executors.newScheduledThreadPool(threads, runnable -> {
            Thread t = new Thread(runnable, name);
            t.setDaemon(true);
            return t;
        });
        timer.scheduleAtFixedRate(
                () -> {
                    // never throws: an exception would end the sampling (scheduleAtFixedRate runs a task that threw no
                    // more)
                    JsonNode q = queue(system, probeKey);
                    if (q != null) {
                        queueSamples.add(q);
                        latestMean = meanJobSeconds(q, latestMean);
                    }
                },
                1000,
                1000,
                TimeUnit.MILLISECONDS);
    }

    /** The timer, for the scenario's periodic or scheduled submissions. */
    ScheduledExecutorService timer() {
        return timer;
    }

    /** The pool's mean job time as last sampled (or as given at the start). */
    Double latestMean() {
        return latestMean;
    }

    /**
     * Submits {@code body} as {@code apiKey} and records it as {@code key}'s; a failure is printed, not thrown (a
     * periodic task that throws runs no more).
     */
    void submit(Map<String, Object> body, String apiKey, String key) {
        Double mean = latestMean;
        try {
            GatewayClient.Submitted s = system.api().submitAsync(body, apiKey).join();
            accepted(s);
            sent.add(new Sent(key, s, mean));
        } catch (RuntimeException e) {
            System.err.println("  " + key + ": a submission failed: " + e);
        }
    }

    /** Records a submission made by the scenario itself. */
    void record(String key, GatewayClient.Submitted answer, Double meanJobSeconds) {
        accepted(answer);
        sent.add(new Sent(key, answer, meanJobSeconds));
    }

    List<Sent> sent() {
        return List.copyOf(sent);
    }

    long count(String key) {
        return sent.stream().filter(s -> s.key().equals(key)).count();
    }

    List<UUID> ids() {
        return sent.stream().map(s -> s.answer().jobId()).toList();
    }

    /** Stops the sampler and the scenario's timer tasks. */
    @Override
    public void close() {
        timer.shutdownNow();
        try {
            timer.awaitTermination(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * The submitted jobs that succeeded, as the figures need them (seconds from the first submission), in submission
     * order; waits for each job's terminal update and forgets it in the tracker.
     */
    List<FairnessFigures.Job> finishedJobs(JobTracker tracker) {
        Instant origin = origin();
        List<FairnessFigures.Job> jobs = new ArrayList<>();
        for (Sent s : sent) {
            JobTracker.Terminal t = tracker.terminal(s.answer().jobId()).join();
            Instant started = Json.instant(t.job(), "startedAt");
            Instant finished = Json.instant(t.job(), "finishedAt");
            if (!t.succeeded() || started == null || finished == null) {
                continue;
            }
            JsonNode eta = s.answer().job().path("eta").path("seconds");
            jobs.add(new FairnessFigures.Job(
                    s.key(),
                    seconds(origin, Json.instant(s.answer().job(), "createdAt")),
                    seconds(origin, started),
                    seconds(origin, finished),
                    eta.isNumber() ? eta.asDouble() : null,
                    s.meanJobSeconds()));
            tracker.forget(s.answer().jobId());
        }
        return jobs;
    }

    /** The first submission's {@code createdAt}. */
    Instant origin() {
        Instant origin = null;
        for (Sent s : sent) {
            Instant created = Json.instant(s.answer().job(), "createdAt");
            origin = origin == null || created.isBefore(origin) ? created : origin;
        }
        return origin;
    }

    /** The queue as sampled every second, for the results file. */
    List<Map<String, Object>> queueSamples() {
        return queueSamples.stream()
                .map(q -> {
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("at", q.path("at").asString(""));
                    m.put("depth", q.path("depth").asLong());
                    m.put("running", q.path("running").asLong());
                    m.put("meanJobSeconds", meanJobSeconds(q, null));
                    return m;
                })
                .toList();
    }

    /** Every job's key and times (and ETA, -1 when none), seconds from the first submission, for the results file. */
    static List<List<Object>> jobRows(List<FairnessFigures.Job> jobs) {
        return jobs.stream()
                .map(j -> List.<Object>of(
                        j.key(),
                        DutyScenario.round(j.submitted(), 3),
                        DutyScenario.round(j.started(), 3),
                        DutyScenario.round(j.finished(), 3),
                        j.etaSeconds() == null ? -1 : j.etaSeconds()))
                .toList();
    }

    /** Each key's figures, for the results file. */
    static Map<String, Object> perKeyDetail(FairnessFigures.Result f) {
        Map<String, Object> perKey = new LinkedHashMap<>();
        f.keys().forEach((k, kf) -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("jobs", kf.jobs());
            m.put("waitP50Seconds", DutyScenario.round(kf.waitP50(), 3));
            m.put("waitP95Seconds", DutyScenario.round(kf.waitP95(), 3));
            m.put("gpuShare", DutyScenario.round(kf.gpuShare(), 4));
            m.put("backloggedContendedSlices", kf.backlogSlices());
            m.put("gpusWhileBacklogged", DutyScenario.round(kf.rate(), 3));
            m.put("etaErrorP50", DutyScenario.round(kf.etaErrorP50(), 3));
            perKey.put(k, m);
        });
        return perKey;
    }

    /**
     * Runs {@code bodies} with {@code key} and waits until the gateway's job times are theirs: ETAs and fair-share cost
     * estimates come from recent job times, which would otherwise be none (or the zero-latency jobs of a warm-up).
     * Returns the gateway's mean job time then (null without primer).
     *
     * @param historySamples the gateway's job-time history length ({@code gateway.queue.history-samples})
     */
    static Double prime(
            BenchSystem system, JobTracker tracker, String key, List<Map<String, Object>> bodies, int historySamples) {
        if (bodies.isEmpty()) {
            System.out.println("  no primer: the gateway has no job times yet");
            return null;
        }
        List<UUID> ids = new ArrayList<>();
        for (Map<String, Object> body : bodies) {
            GatewayClient.Submitted s = system.api().submitAsync(body, key).join();
            accepted(s);
            ids.add(s.jobId());
        }
        tracker.awaitAll(ids, Duration.ofSeconds(120 + 10L * bodies.size()));
        ids.forEach(tracker::forget);
        // the gateway refreshes its job times every second (gateway.queue.refresh-interval): one refresh after the
        // last primer job, so the mean is of the warm jobs and not of a snapshot taken mid-primer
        Sleep.millis(1500);
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        Double mean = null;
        // the first call of each worker loads its first checkpoint before the worker knows its speed: the gateway
        // leaves such a job out of the pool's job times (loadUnsplit), so up to one per worker is missing
        int expected = Math.max(
                1, Math.min(bodies.size(), historySamples) - system.workers().size());
        while (System.nanoTime() < deadline) {
            JsonNode q = queue(system, key);
            JsonNode pool = q == null ? null : pool(q);
            if (pool != null && pool.path("samples").asInt() >= expected) {
                mean = pool.path("meanJobSeconds").asDouble();
                break;
            }
            Sleep.millis(200);
        }
        System.out.printf(
                Locale.ROOT, "  primed with %d jobs; the gateway's mean job time: %s s%n", bodies.size(), mean);
        return mean;
    }

    static void accepted(GatewayClient.Submitted s) {
        if (!s.accepted()) {
            throw new IllegalStateException("submission refused: " + s.status() + " " + s.body());
        }
    }

    /** {@code GET /api/v1/queue} as {@code key} sees it, or null when it fails. */
    static JsonNode queue(BenchSystem system, String key) {
        try {
            return system.api().get("/api/v1/queue", key);
        } catch (RuntimeException e) {
            return null;
        }
    }

    static JsonNode pool(JsonNode queue) {
        for (JsonNode p : queue.path("pools")) {
            if (p.path("pool").asString("").equals(BenchSystem.POOL)) {
                return p;
            }
        }
        return null;
    }

    /** The pool's mean job time in a queue answer, else {@code fallback} (no history yet: null there). */
    static Double meanJobSeconds(JsonNode queue, Double fallback) {
        JsonNode pool = pool(queue);
        JsonNode mean = pool == null ? null : pool.get("meanJobSeconds");
        if (mean == null || !mean.isNumber()) {
            return fallback;
        }
        return mean.asDouble();
    }

    private static double seconds(Instant origin, Instant t) {
        return Json.micros(origin, t) / 1e6;
    }
}
