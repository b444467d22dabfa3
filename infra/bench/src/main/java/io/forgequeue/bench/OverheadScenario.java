package io.forgequeue.bench;

import io.forgequeue.forgesim.ForgeSimAdmin;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;

/**
 * Pipeline overhead at light load, one job at a time: from sending {@code POST /jobs} to the client receiving the
 * SUCCEEDED update over WebSocket, minus the time forge-sim spent generating (its busy time for that job). The job's
 * own timestamps (stamped by the worker) split it into stages.
 */
final class OverheadScenario {

    private static final int WARMUP_JOBS = 20;

    private OverheadScenario() {}

    static ScenarioResult run(BenchContext ctx, BenchSystem system, JobTracker tracker) {
        int jobs = ctx.options().overheadJobs();
        ScenarioResult r = new ScenarioResult("overhead", system.jars().label());
        system.stepTime(Duration.ZERO);
        Latency overhead = new Latency();
        Latency endToEnd = new Latency();
        Latency forge = new Latency();
        Latency post = new Latency();
        Latency toRunning = new Latency();
        Latency workerAroundForge = new Latency();
        Latency outcomeToClient = new Latency();
        for (int i = 0; i < WARMUP_JOBS + jobs; i++) {
            long busyBefore = busyMicros(system);
            Instant wall0 = Instant.now();
            long t0 = System.nanoTime();
            GatewayClient.Submitted s = system.api().submit(GatewayClient.job("overhead " + i, 20));
            long tPost = System.nanoTime();
            if (!s.accepted()) {
                throw new IllegalStateException("submission refused: " + s.status() + " " + s.body());
            }
            JobTracker.Terminal t;
            try {
                t = tracker.terminal(s.jobId()).get(60, TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new IllegalStateException("job " + s.jobId() + " did not finish within 60 s", e);
            }
            long forgeMicros = busyMicros(system) - busyBefore;
            tracker.forget(s.jobId());
            if (i < WARMUP_JOBS || t.caughtUp()) {
                continue;
            }
            long e2e = (t.receivedNanos() - t0) / 1000;
            endToEnd.recordMicros(e2e);
            forge.recordMicros(forgeMicros);
            overhead.recordMicros(e2e - forgeMicros);
            post.recordMicros((tPost - t0) / 1000);
            Instant started = Json.instant(t.job(), "startedAt");
            Instant finished = Json.instant(t.job(), "finishedAt");
            if (started != null && finished != null) {
                toRunning.recordMicros(Json.micros(wall0, started));
                workerAroundForge.recordMicros(Json.micros(started, finished) - forgeMicros);
                outcomeToClient.recordMicros(Json.micros(finished, t.receivedAt()));
            }
            Sleep.millis(5);
        }
        r.figure(Figure.atMost("overhead", "pipeline overhead p50", Latency.round3(overhead.millis(50)), "ms", 8));
        r.figure(Figure.atMost("overhead", "pipeline overhead p99", Latency.round3(overhead.millis(99)), "ms", 20));
        r.figure(Figure.of("overhead", "submit → SUCCEEDED seen p50", Latency.round3(endToEnd.millis(50)), "ms"));
        r.detail("jobs", jobs);
        r.detail("overhead", overhead.summary());
        r.detail("endToEnd", endToEnd.summary());
        r.detail("forgeBusy", forge.summary());
        java.util.Map<String, Object> stages = new java.util.LinkedHashMap<>();
        stages.put("POST answered", post.summary());
        stages.put("POST sent -> RUNNING emitted by the worker", toRunning.summary());
        stages.put("worker time around Forge (RUNNING -> SUCCEEDED emitted, minus Forge)", workerAroundForge.summary());
        stages.put("SUCCEEDED emitted -> client received", outcomeToClient.summary());
        r.detail("stages", stages);
        System.out.printf(
                "  overhead: p50 %.2f ms p99 %.2f ms (stages p50: to RUNNING %.2f, worker %.2f, outcome->client %.2f)%n",
                overhead.millis(50),
                overhead.millis(99),
                toRunning.millis(50),
                workerAroundForge.millis(50),
                outcomeToClient.millis(50));
        return r;
    }

    private static long busyMicros(BenchSystem system) {
        long total = 0;
        for (ForgeSimAdmin a : system.simAdmins()) {
            total += a.stats().duty().busyMicros();
        }
        return total;
    }
}
