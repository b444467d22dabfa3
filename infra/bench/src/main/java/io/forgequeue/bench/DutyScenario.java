package io.forgequeue.bench;

import io.forgequeue.forgesim.ForgeSimAdmin;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

/**
 * GPU duty cycle, measured by forge-sim itself: with a backlog of jobs in the queue, the share of wall time each
 * "GPU" is busy (from taking Forge's queue lock to releasing it) and the idle gaps between one job's end and the
 * next job's start on the same worker.
 */
final class DutyScenario {

    private DutyScenario() {}

    /**
     * @param size image side in pixels: 64 measures the pipeline's own cost; 512 (the API's default size) adds what
     *             moving a real image costs (forge-sim encodes the PNG after releasing its lock, as Forge does, so
     *             that is part of the gap too)
     */
    static ScenarioResult run(BenchContext ctx, BenchSystem system, JobTracker tracker, int size) {
        BenchOptions o = ctx.options();
        int steps = 10;
        double stepMs = o.dutyJobMillis() / (double) steps;
        String scenario = size == 64 ? "duty" : "duty " + size + "px";
        ScenarioResult r = new ScenarioResult(scenario, system.jars().label());
        system.stepTime(Duration.ofNanos((long) (stepMs * 1e6)));
        system.simAdmins().forEach(ForgeSimAdmin::resetStats);

        long t0 = System.nanoTime();
        List<CompletableFuture<GatewayClient.Submitted>> posts = new ArrayList<>();
        for (int i = 0; i < o.dutyJobs(); i++) {
            Map<String, Object> body = GatewayClient.job("duty " + i, steps);
            body.put("width", size);
            body.put("height", size);
            posts.add(system.api().submitAsync(body));
        }
        List<UUID> ids = new ArrayList<>();
        for (CompletableFuture<GatewayClient.Submitted> p : posts) {
            GatewayClient.Submitted s = p.join();
            if (!s.accepted()) {
                throw new IllegalStateException("submission refused: " + s.status() + " " + s.body());
            }
            ids.add(s.jobId());
        }
        double submitSeconds = (System.nanoTime() - t0) / 1e9;
        // The workers' timers from here on: each has started its first job, so the wait before it is not a gap.
        awaitEverySimBusy(system);
        Map<String, GapSplit.Timer> timersBefore = GapSplit.read(system.workers());
        long expectedMs =
                (long) o.dutyJobs() * o.dutyJobMillis() / system.workers().size();
        long failed = tracker.awaitAll(ids, Duration.ofMillis(expectedMs * 3 + 60_000));
        double wallSeconds = (System.nanoTime() - t0) / 1e9;

        Latency gaps = new Latency();
        long busy = 0;
        long span = 0;
        List<Map<String, Object>> perSim = new ArrayList<>();
        double worst = 1;
        for (ForgeSimAdmin admin : system.simAdmins()) {
            ForgeSimAdmin.DutyCycle d = admin.stats(true).duty();
            d.gapsMicros().forEach(gaps::recordMicros);
            busy += d.busyMicros();
            span += d.spanMicros();
            worst = Math.min(worst, d.dutyCycle());
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("jobs", d.jobs());
            m.put("busyMs", d.busyMicros() / 1000.0);
            m.put("spanMs", d.spanMicros() / 1000.0);
            m.put("dutyCycle", d.dutyCycle());
            m.put("gapCount", d.gapCount());
            m.put("gapP50Ms", d.gapP50Micros() / 1000.0);
            m.put("gapP99Ms", d.gapP99Micros() / 1000.0);
            m.put("gapMaxMs", d.gapMaxMicros() / 1000.0);
            m.put("gapMeanMs", d.gapMeanMicros() / 1000.0);
            perSim.add(m);
        }
        double duty = span == 0 ? 0 : (double) busy / span;
        long simJobs = perSim.stream().mapToLong(m -> (Long) m.get("jobs")).sum();
        Map<String, Double> split =
                GapSplit.split(timersBefore, GapSplit.read(system.workers()), busy, simJobs, gaps.meanMillis());
        String what = size + "×" + size + " images";
        if (size == 64) {
            r.figure(Figure.atLeast(
                    scenario, "GPU busy share with a backlog, " + what, round(duty * 100, 2), "%", 99.5));
            r.figure(Figure.of(scenario, "idle gap p50, " + what, Latency.round3(gaps.millis(50)), "ms"));
            r.figure(Figure.below(scenario, "idle gap p99, " + what, Latency.round3(gaps.millis(99)), "ms", 5));
        } else {
            r.figure(Figure.of(scenario, "GPU busy share with a backlog, " + what, round(duty * 100, 2), "%"));
            r.figure(Figure.of(scenario, "idle gap p50, " + what, Latency.round3(gaps.millis(50)), "ms"));
            r.figure(Figure.of(scenario, "idle gap p99, " + what, Latency.round3(gaps.millis(99)), "ms"));
        }
        r.figure(Figure.of(scenario, "idle gap max, " + what, Latency.round3(gaps.maxMillis()), "ms"));
        r.detail("imageSize", size);
        r.detail("workers", system.workers().size());
        r.detail("jobs", o.dutyJobs());
        r.detail("jobMillis", o.dutyJobMillis());
        r.detail("submitSeconds", round(submitSeconds, 3));
        r.detail("wallSeconds", round(wallSeconds, 3));
        r.detail("idealSeconds", expectedMs / 1000.0);
        r.detail("failedJobs", failed);
        r.detail("worstSimDutyCycle", worst);
        r.detail("gaps", gaps.summary());
        r.detail("perSim", perSim);
        r.detail("gapSplitMeanMs", split);
        for (String part : GapSplit.PARTS) {
            r.figure(Figure.of(
                    scenario, "mean gap split: " + part + ", " + what, Latency.round3(split.get(part)), "ms"));
        }
        System.out.printf(
                "  duty (" + what
                        + "): busy %.3f %% (worst sim %.3f %%), gap p50 %.2f ms p99 %.2f ms max %.2f ms, %d gaps%n",
                duty * 100,
                worst * 100,
                gaps.millis(50),
                gaps.millis(99),
                gaps.maxMillis(),
                gaps.count());
        StringBuilder line = new StringBuilder(String.format("  mean gap %.2f ms =", gaps.meanMillis()));
        split.forEach((part, ms) -> line.append(String.format(" %s %.2f +", part, ms)));
        System.out.println(line.substring(0, line.length() - 2));
        return r;
    }

    private static void awaitEverySimBusy(BenchSystem system) {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (system.simAdmins().stream().map(a -> a.stats().duty()).anyMatch(d -> d.jobs() == 0 && !d.running())) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("a worker did not start a job within 60 s");
            }
            Sleep.millis(2);
        }
    }

    /** {@code v} rounded to {@code decimals}; NaN stays NaN (the report shows it as "–", not as 0). */
    static double round(double v, int decimals) {
        if (Double.isNaN(v) || Double.isInfinite(v)) {
            return v;
        }
        double f = Math.pow(10, decimals);
        return Math.round(v * f) / f;
    }
}
