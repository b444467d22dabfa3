package io.forgequeue.bench;

import tools.jackson.databind.JsonNode;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Fair share between API keys (issue 16): three keys on 2 workers, a flood (N jobs at once), a steady key (one job a
 * second) and a trickle (one job every 5 s), run once per scheduler policy ({@code fifo}: submission order, as
 * before the scheduler; {@code fair}: fair share between keys) on systems that differ only in that setting. The
 * figures ({@link FairnessFigures}) come from the jobs' own times and the ETA each job showed when it was accepted.
 */
final class FairnessScenario {

    static final List<String> KEYS = List.of("flood", "steady", "trickle");
    /**
     * Slices of the fairness figures, in job times: longer than the wait of a fairly served arrival (the job each
     * GPU runs plus the one assigned behind it: 2 job times, more when the machine stalls) and many whole jobs per
     * GPU (a GPU serves whole jobs: one job more or less is 5 % of a slice's 20).
     */
    static final int SLICE_JOBS = 10;
    /**
     * The gateway's job-time history for this scenario ({@code gateway.queue.history-samples}, default 200): the
     * ETAs and the fair-share cost estimates come from the mean of the last N finished jobs; a fresh system's first
     * jobs take several times as long (cold JVMs), so with 200 they would skew every estimate for minutes. 20 lets
     * the primer's warm jobs replace them.
     */
    static final int HISTORY_SAMPLES = 20;
    /** forge-sim's time per job does not depend on the image size; the gateway's default cost per 512x512x20 image. */
    private static final double GATEWAY_DEFAULT_SECONDS_PER_STANDARD_IMAGE = 1.0;
    private static final int STEPS = 20;
    private static final long STEADY_PERIOD_MILLIS = 1000;
    private static final long TRICKLE_PERIOD_MILLIS = 5000;
    private static final long TRICKLE_OFFSET_MILLIS = 2500;

    /** One policy's system: its gateway runs with {@code GATEWAY_SCHEDULER_POLICY=policy}. */
    record PolicySystem(String policy, BenchSystem system, JobTracker tracker) implements AutoCloseable {
        @Override
        public void close() {
            tracker.close();
            system.close();
        }
    }

    /** A job as submitted: whose, the answer to the POST, the gateway's mean job time then. */
    private record Sent(String key, GatewayClient.Submitted answer, Double meanJobSeconds) {
    }

    private FairnessScenario() {
    }

    /** Starts a system of 2 workers whose gateway uses {@code policy}, with 4 keys (3 measured, 1 to prime). */
    static PolicySystem start(BenchContext ctx, Jars jars, String policy) {
        BenchSystem system = BenchSystem.start(ctx, "fair-" + policy, jars, 2,
                List.of("--step-ms", "0", "--model-load-ms", "0"), Map.of("GATEWAY_SCHEDULER_POLICY", policy,
                        "GATEWAY_QUEUE_HISTORYSAMPLES", Integer.toString(HISTORY_SAMPLES)), 4);
        try {
            return new PolicySystem(policy, system, JobTracker.open(system));
        } catch (RuntimeException e) {
            system.close();
            throw e;
        }
    }

    static ScenarioResult run(BenchContext ctx, PolicySystem ps) {
        BenchOptions o = ctx.options();
        BenchSystem system = ps.system();
        JobTracker tracker = ps.tracker();
        ScenarioResult r = new ScenarioResult("fairness", system.jars().label(), ps.policy());
        system.stepTime(Duration.ofNanos(o.fairnessJobMillis() * 1_000_000L / STEPS));
        List<String> keys = system.apiKeys();
        Double mean = prime(system, tracker, keys.get(3), o.fairnessPrimer());

        List<Sent> sent = new CopyOnWriteArrayList<>();
        List<JsonNode> queueSamples = new CopyOnWriteArrayList<>();
        Double[] latestMean = {mean};
        Map<String, Object> body = GatewayClient.job("fairness", STEPS);
        ScheduledExecutorService timer = Executors.newScheduledThreadPool(3, runnable -> {
            Thread t = new Thread(runnable, "fairness");
            t.setDaemon(true);
            return t;
        });
        long t0 = System.nanoTime();
        List<UUID> flood = new ArrayList<>();
        boolean bounded;
        try {
            timer.scheduleAtFixedRate(() -> {
                // never throws: an exception would end the sampling (scheduleAtFixedRate runs a task that threw no more)
                JsonNode q = queue(system, keys.get(0));
                if (q != null) {
                    queueSamples.add(q);
                    latestMean[0] = meanJobSeconds(q, latestMean[0]);
                }
            }, 1000, 1000, TimeUnit.MILLISECONDS);
            List<CompletableFuture<GatewayClient.Submitted>> posts = new ArrayList<>();
            for (int i = 0; i < o.fairnessFlood(); i++) {
                posts.add(system.api().submitAsync(body, keys.get(0)));
            }
            timer.scheduleAtFixedRate(() -> submit(system, body, keys.get(1), "steady", latestMean[0], sent),
                    STEADY_PERIOD_MILLIS, STEADY_PERIOD_MILLIS, TimeUnit.MILLISECONDS);
            timer.scheduleAtFixedRate(() -> submit(system, body, keys.get(2), "trickle", latestMean[0], sent),
                    TRICKLE_OFFSET_MILLIS, TRICKLE_PERIOD_MILLIS, TimeUnit.MILLISECONDS);
            for (CompletableFuture<GatewayClient.Submitted> p : posts) {
                GatewayClient.Submitted s = p.join();
                accepted(s);
                sent.add(new Sent("flood", s, mean));
                flood.add(s.jobId());
            }
            // until the flood has drained (its last job finished), or the bound
            CompletableFuture<?> drained = CompletableFuture.allOf(flood.stream().map(tracker::terminal)
                    .toArray(CompletableFuture[]::new));
            try {
                drained.get(o.fairnessMaxSeconds() * 1000L - (System.nanoTime() - t0) / 1_000_000, TimeUnit.MILLISECONDS);
                bounded = false;
            } catch (java.util.concurrent.TimeoutException e) {
                bounded = true;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        } finally {
            timer.shutdownNow();
            try {
                timer.awaitTermination(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        double submitSeconds = (System.nanoTime() - t0) / 1e9;
        List<UUID> ids = sent.stream().map(s -> s.answer().jobId()).toList();
        long failed = tracker.awaitAll(ids, Duration.ofMillis(ids.size() * (long) o.fairnessJobMillis() + 120_000));
        double wallSeconds = (System.nanoTime() - t0) / 1e9;

        List<FairnessFigures.Job> jobs = new ArrayList<>();
        Instant origin = null;
        for (Sent s : sent) {
            Instant created = Json.instant(s.answer().job(), "createdAt");
            origin = origin == null || created.isBefore(origin) ? created : origin;
        }
        for (Sent s : sent) {
            JobTracker.Terminal t = tracker.terminal(s.answer().jobId()).join();
            Instant started = Json.instant(t.job(), "startedAt");
            Instant finished = Json.instant(t.job(), "finishedAt");
            if (!t.succeeded() || started == null || finished == null) {
                continue;
            }
            JsonNode eta = s.answer().job().path("eta").path("seconds");
            jobs.add(new FairnessFigures.Job(s.key(), seconds(origin, Json.instant(s.answer().job(), "createdAt")),
                    seconds(origin, started), seconds(origin, finished), eta.isNumber() ? eta.asDouble() : null,
                    s.meanJobSeconds()));
            tracker.forget(s.answer().jobId());
        }
        Map<String, Double> weights = new LinkedHashMap<>();
        KEYS.forEach(k -> weights.put(k, 1.0));
        double sliceSeconds = SLICE_JOBS * o.fairnessJobMillis() / 1000.0;
        FairnessFigures.Result f = FairnessFigures.compute(jobs, weights, sliceSeconds);
        double floodDone = jobs.stream().filter(j -> j.key().equals("flood")).mapToDouble(FairnessFigures.Job::finished)
                .max().orElse(Double.NaN);
        double actual = jobs.stream().mapToDouble(j -> j.finished() - j.started()).average().orElse(Double.NaN);
        // the cost the flood's jobs were tagged with: the pool's mean job time then (all jobs are of one size), or
        // without history the gateway's default per standard image
        double estimated = mean != null ? mean
                : GATEWAY_DEFAULT_SECONDS_PER_STANDARD_IMAGE * 64 * 64 * STEPS / (512.0 * 512.0 * 20.0);
        figures(r, f, ps.policy(), floodDone, estimated / actual);
        r.detail("policy", ps.policy());
        r.detail("workers", system.workers().size());
        r.detail("jobMillis", o.fairnessJobMillis());
        r.detail("floodJobs", o.fairnessFlood());
        r.detail("submitted", Map.of("flood", count(sent, "flood"), "steady", count(sent, "steady"),
                "trickle", count(sent, "trickle")));
        r.detail("stoppedAtBound", bounded);
        r.detail("submitSeconds", DutyScenario.round(submitSeconds, 3));
        r.detail("wallSeconds", DutyScenario.round(wallSeconds, 3));
        r.detail("failedJobs", failed);
        r.detail("meanJobSecondsBefore", mean);
        r.detail("estimatedJobSecondsAtFlood", DutyScenario.round(estimated, 4));
        r.detail("actualMeanJobSeconds", DutyScenario.round(actual, 4));
        r.detail("historySamples", historySamples(system));
        r.detail("primerJobs", o.fairnessPrimer());
        r.detail("sliceSeconds", sliceSeconds);
        r.detail("contendedSlices", f.contendedSlices());
        r.detail("etaJobs", f.etaJobs());
        r.detail("etaBiasP50Seconds", DutyScenario.round(f.etaBiasP50Seconds(), 3));
        r.detail("etaAbsErrorP50Seconds", DutyScenario.round(f.etaAbsErrorP50Seconds(), 3));
        r.detail("etaDoneErrorP50", DutyScenario.round(f.etaDoneErrorP50(), 3));
        r.detail("etaDoneErrorP90", DutyScenario.round(f.etaDoneErrorP90(), 3));
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
        r.detail("perKey", perKey);
        r.detail("queueSamples", queueSamples.stream().map(q -> {
            Map<String, Object> m = new LinkedHashMap<>();
            JsonNode pool = pool(q);
            m.put("at", q.path("at").asString(""));
            m.put("depth", q.path("depth").asLong());
            m.put("running", q.path("running").asLong());
            m.put("meanJobSeconds", meanJobSeconds(q, null));
            return m;
        }).toList());
        r.detail("jobs", jobs.stream().map(j -> List.of(j.key(), DutyScenario.round(j.submitted(), 3),
                DutyScenario.round(j.started(), 3), DutyScenario.round(j.finished(), 3),
                j.etaSeconds() == null ? -1 : j.etaSeconds())).toList());
        StringBuilder line = new StringBuilder(String.format(Locale.ROOT,
                "  %s: Jain %.3f over %d contended slices; flood drained after %.1f s%s; ETA error p50 %.0f %% p90 %.0f %%;",
                ps.policy(), f.jain(), f.contendedSlices(), floodDone, bounded ? " (bound reached)" : "",
                f.etaErrorP50() * 100, f.etaErrorP90() * 100));
        f.keys().forEach((k, kf) -> line.append(String.format(Locale.ROOT, " %s wait p50 %.1f s p95 %.1f s share %.0f %%;",
                k, kf.waitP50(), kf.waitP95(), kf.gpuShare() * 100)));
        System.out.println(line.substring(0, line.length() - 1));
        return r;
    }

    private static void figures(ScenarioResult r, FairnessFigures.Result f, String policy, double floodDone,
                                double estimateRatio) {
        for (String k : KEYS) {
            FairnessFigures.KeyFigures kf = f.keys().get(k);
            r.figure(Figure.of("fairness", "wait p50, " + k + " key", DutyScenario.round(kf.waitP50(), 2), "s"));
            r.figure(Figure.of("fairness", "wait p95, " + k + " key", DutyScenario.round(kf.waitP95(), 2), "s"));
        }
        for (String k : KEYS) {
            r.figure(Figure.of("fairness", "GPU share while contended, " + k + " key",
                    DutyScenario.round(f.keys().get(k).gpuShare() * 100, 1), "%"));
        }
        String jain = "Jain's index over the backlogged keys";
        double j = DutyScenario.round(f.jain(), 3);
        r.figure(policy.equals("fair") ? Figure.atLeast("fairness", jain, j, "", 0.95) : Figure.of("fairness", jain, j, ""));
        r.figure(Figure.of("fairness", "ETA error p50, share of the wait", DutyScenario.round(f.etaErrorP50() * 100, 1), "%"));
        r.figure(Figure.of("fairness", "ETA error p90, share of the wait", DutyScenario.round(f.etaErrorP90() * 100, 1), "%"));
        for (String k : KEYS) {
            r.figure(Figure.of("fairness", "ETA error p50, " + k + " key", DutyScenario.round(f.keys().get(k).etaErrorP50() * 100, 1),
                    "%"));
        }
        r.figure(Figure.of("fairness", "flood drained after", DutyScenario.round(floodDone, 1), "s"));
        r.figure(Figure.of("fairness", "cost estimate at the flood's submission / actual job time",
                DutyScenario.round(estimateRatio, 2), "×"));
    }

    /**
     * Runs {@code count} jobs of the scenario's size with a fourth key and waits until the gateway's job times are
     * theirs: ETAs and fair-share cost estimates come from recent job times, which would otherwise be none (or the
     * zero-latency jobs of a warm-up). Returns the gateway's mean job time then (null without primer).
     */
    private static Double prime(BenchSystem system, JobTracker tracker, String key, int count) {
        if (count == 0) {
            System.out.println("  no primer: the gateway has no job times yet");
            return null;
        }
        List<UUID> ids = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            GatewayClient.Submitted s = system.api().submitAsync(GatewayClient.job("primer " + i, STEPS), key).join();
            accepted(s);
            ids.add(s.jobId());
        }
        tracker.awaitAll(ids, Duration.ofSeconds(120));
        ids.forEach(tracker::forget);
        // the gateway refreshes its job times every second (gateway.queue.refresh-interval): one refresh after the
        // last primer job, so the mean is of the warm jobs and not of a snapshot taken mid-primer
        Sleep.millis(1500);
        int history = historySamples(system);
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        Double mean = null;
        while (System.nanoTime() < deadline) {
            JsonNode q = queue(system, key);
            JsonNode pool = q == null ? null : pool(q);
            if (pool != null && pool.path("samples").asInt() >= Math.min(count, history)) {
                mean = pool.path("meanJobSeconds").asDouble();
                break;
            }
            Sleep.millis(200);
        }
        System.out.printf(Locale.ROOT, "  primed with %d jobs; the gateway's mean job time: %s s%n", count, mean);
        return mean;
    }

    /** The gateway's job-time history length: this scenario's, unless {@code --gateway-env} set another. */
    private static int historySamples(BenchSystem system) {
        return Integer.parseInt(system.gatewayEnv().getOrDefault("GATEWAY_QUEUE_HISTORYSAMPLES",
                Integer.toString(HISTORY_SAMPLES)));
    }

    private static void submit(BenchSystem system, Map<String, Object> body, String apiKey, String key, Double mean,
                               List<Sent> sent) {
        try {
            GatewayClient.Submitted s = system.api().submitAsync(body, apiKey).join();
            accepted(s);
            sent.add(new Sent(key, s, mean));
        } catch (RuntimeException e) {
            System.err.println("  fairness: a " + key + " submission failed: " + e);
        }
    }

    private static void accepted(GatewayClient.Submitted s) {
        if (!s.accepted()) {
            throw new IllegalStateException("submission refused: " + s.status() + " " + s.body());
        }
    }

    /** {@code GET /api/v1/queue} as {@code key} sees it, or null when it fails. */
    private static JsonNode queue(BenchSystem system, String key) {
        try {
            return system.api().get("/api/v1/queue", key);
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static JsonNode pool(JsonNode queue) {
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

    private static long count(List<Sent> sent, String key) {
        return sent.stream().filter(s -> s.key().equals(key)).count();
    }

    private static double seconds(Instant origin, Instant t) {
        return Json.micros(origin, t) / 1e6;
    }
}
