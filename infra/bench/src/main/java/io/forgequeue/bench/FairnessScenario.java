package io.forgequeue.bench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
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

    private FairnessScenario() {}

    /** Starts a system of 2 workers whose gateway uses {@code policy}, with 4 keys (3 measured, 1 to prime). */
    static PolicySystem start(BenchContext ctx, Jars jars, String policy) {
        BenchSystem system = BenchSystem.start(
                ctx,
                "fair-" + policy,
                jars,
                2,
                List.of("--step-ms", "0", "--model-load-ms", "0"),
                Map.of(
                        "GATEWAY_SCHEDULER_POLICY",
                        policy,
                        "GATEWAY_QUEUE_HISTORYSAMPLES",
                        Integer.toString(HISTORY_SAMPLES)),
                4);
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
        List<Map<String, Object>> primer = new ArrayList<>();
        for (int i = 0; i < o.fairnessPrimer(); i++) {
            primer.add(GatewayClient.job("primer " + i, STEPS));
        }
        Double mean = KeyedLoad.prime(system, tracker, keys.get(3), primer, historySamples(system));

        Map<String, Object> body = GatewayClient.job("fairness", STEPS);
        long t0 = System.nanoTime();
        List<UUID> flood = new ArrayList<>();
        boolean bounded;
        KeyedLoad load = new KeyedLoad(system, keys.get(0), mean, 3, "fairness");
        try {
            List<CompletableFuture<GatewayClient.Submitted>> posts = new ArrayList<>();
            for (int i = 0; i < o.fairnessFlood(); i++) {
                posts.add(system.api().submitAsync(body, keys.get(0)));
            }
            load.timer()
                    .scheduleAtFixedRate(
                            () -> load.submit(body, keys.get(1), "steady"),
                            STEADY_PERIOD_MILLIS,
                            STEADY_PERIOD_MILLIS,
                            TimeUnit.MILLISECONDS);
            load.timer()
                    .scheduleAtFixedRate(
                            () -> load.submit(body, keys.get(2), "trickle"),
                            TRICKLE_OFFSET_MILLIS,
                            TRICKLE_PERIOD_MILLIS,
                            TimeUnit.MILLISECONDS);
            for (CompletableFuture<GatewayClient.Submitted> p : posts) {
                GatewayClient.Submitted s = p.join();
                load.record("flood", s, mean);
                flood.add(s.jobId());
            }
            // until the flood has drained (its last job finished), or the bound
            CompletableFuture<?> drained = CompletableFuture.allOf(
                    flood.stream().map(tracker::terminal).toArray(CompletableFuture[]::new));
            try {
                drained.get(
                        o.fairnessMaxSeconds() * 1000L - (System.nanoTime() - t0) / 1_000_000, TimeUnit.MILLISECONDS);
                bounded = false;
            } catch (java.util.concurrent.TimeoutException e) {
                bounded = true;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        } finally {
            load.close();
        }
        double submitSeconds = (System.nanoTime() - t0) / 1e9;
        List<UUID> ids = load.ids();
        long failed = tracker.awaitAll(ids, Duration.ofMillis(ids.size() * (long) o.fairnessJobMillis() + 120_000));
        double wallSeconds = (System.nanoTime() - t0) / 1e9;
        List<FairnessFigures.Job> jobs = load.finishedJobs(tracker);
        Map<String, Double> weights = new LinkedHashMap<>();
        KEYS.forEach(k -> weights.put(k, 1.0));
        double sliceSeconds = SLICE_JOBS * o.fairnessJobMillis() / 1000.0;
        FairnessFigures.Result f = FairnessFigures.compute(jobs, weights, sliceSeconds);
        double floodDone = jobs.stream()
                .filter(j -> j.key().equals("flood"))
                .mapToDouble(FairnessFigures.Job::finished)
                .max()
                .orElse(Double.NaN);
        double actual = jobs.stream()
                .mapToDouble(j -> j.finished() - j.started())
                .average()
                .orElse(Double.NaN);
        // the cost the flood's jobs were tagged with: the pool's mean job time then (all jobs are of one size), or
        // without history the gateway's default per standard image
        double estimated = mean != null
                ? mean
                : GATEWAY_DEFAULT_SECONDS_PER_STANDARD_IMAGE * 64 * 64 * STEPS / (512.0 * 512.0 * 20.0);
        figures(r, f, ps.policy(), floodDone, estimated / actual);
        r.detail("policy", ps.policy());
        r.detail("workers", system.workers().size());
        r.detail("jobMillis", o.fairnessJobMillis());
        r.detail("floodJobs", o.fairnessFlood());
        r.detail(
                "submitted",
                Map.of("flood", load.count("flood"), "steady", load.count("steady"), "trickle", load.count("trickle")));
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
        r.detail("perKey", KeyedLoad.perKeyDetail(f));
        r.detail("queueSamples", load.queueSamples());
        r.detail("jobs", KeyedLoad.jobRows(jobs));
        StringBuilder line = new StringBuilder(String.format(
                Locale.ROOT,
                "  %s: Jain %.3f over %d contended slices; flood drained after %.1f s%s; ETA error p50 %.0f %% p90 %.0f %%;",
                ps.policy(),
                f.jain(),
                f.contendedSlices(),
                floodDone,
                bounded ? " (bound reached)" : "",
                f.etaErrorP50() * 100,
                f.etaErrorP90() * 100));
        f.keys()
                .forEach((k, kf) -> line.append(String.format(
                        Locale.ROOT,
                        " %s wait p50 %.1f s p95 %.1f s share %.0f %%;",
                        k,
                        kf.waitP50(),
                        kf.waitP95(),
                        kf.gpuShare() * 100)));
        System.out.println(line.substring(0, line.length() - 1));
        return r;
    }

    private static void figures(
            ScenarioResult r, FairnessFigures.Result f, String policy, double floodDone, double estimateRatio) {
        for (String k : KEYS) {
            FairnessFigures.KeyFigures kf = f.keys().get(k);
            r.figure(Figure.of("fairness", "wait p50, " + k + " key", DutyScenario.round(kf.waitP50(), 2), "s"));
            r.figure(Figure.of("fairness", "wait p95, " + k + " key", DutyScenario.round(kf.waitP95(), 2), "s"));
        }
        for (String k : KEYS) {
            r.figure(Figure.of(
                    "fairness",
                    "GPU share while contended, " + k + " key",
                    DutyScenario.round(f.keys().get(k).gpuShare() * 100, 1),
                    "%"));
        }
        String jain = "Jain's index over the backlogged keys";
        double j = DutyScenario.round(f.jain(), 3);
        r.figure(
                policy.equals("fair")
                        ? Figure.atLeast("fairness", jain, j, "", 0.95)
                        : Figure.of("fairness", jain, j, ""));
        r.figure(Figure.of(
                "fairness", "ETA error p50, share of the wait", DutyScenario.round(f.etaErrorP50() * 100, 1), "%"));
        r.figure(Figure.of(
                "fairness", "ETA error p90, share of the wait", DutyScenario.round(f.etaErrorP90() * 100, 1), "%"));
        for (String k : KEYS) {
            r.figure(Figure.of(
                    "fairness",
                    "ETA error p50, " + k + " key",
                    DutyScenario.round(f.keys().get(k).etaErrorP50() * 100, 1),
                    "%"));
        }
        r.figure(Figure.of("fairness", "flood drained after", DutyScenario.round(floodDone, 1), "s"));
        r.figure(Figure.of(
                "fairness",
                "cost estimate at the flood's submission / actual job time",
                DutyScenario.round(estimateRatio, 2),
                "×"));
    }

    /** The gateway's job-time history length: this scenario's, unless {@code --gateway-env} set another. */
    private static int historySamples(BenchSystem system) {
        return Integer.parseInt(
                system.gatewayEnv().getOrDefault("GATEWAY_QUEUE_HISTORYSAMPLES", Integer.toString(HISTORY_SAMPLES)));
    }
}
