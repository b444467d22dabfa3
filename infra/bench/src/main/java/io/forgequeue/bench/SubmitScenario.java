package io.forgequeue.bench;

import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code POST /api/v1/jobs} latency at a fixed offered rate (open loop: requests leave on a schedule whatever the
 * answers do). Latency is measured from each request's scheduled time, so a stall is not hidden by the requests it
 * delayed (no coordinated omission); the service time (from the actual send) is kept as well.
 */
final class SubmitScenario {

    private static final int WARMUP_SECONDS = 2;

    private SubmitScenario() {}

    static ScenarioResult run(BenchContext ctx, BenchSystem system, JobTracker tracker, int rate) {
        int seconds = ctx.options().submitSeconds();
        ScenarioResult r = new ScenarioResult("submit", system.jars().label());
        system.stepTime(Duration.ZERO);
        Latency response = new Latency();
        Latency service = new Latency();
        AtomicLong refused = new AtomicLong();
        AtomicLong failures = new AtomicLong();
        ConcurrentLinkedQueue<UUID> ids = new ConcurrentLinkedQueue<>();
        int total = rate * (WARMUP_SECONDS + seconds);
        int warm = rate * WARMUP_SECONDS;
        long interval = 1_000_000_000L / rate;
        long start = System.nanoTime() + 50_000_000L;
        AtomicLong outstanding = new AtomicLong();
        ProcStats.CpuMeter cpu = null;
        for (int i = 0; i < total; i++) {
            long intended = start + i * interval;
            Sleep.until(intended);
            if (i == warm) {
                cpu = system.cpuMeter().start();
            }
            boolean measured = i >= warm;
            long sent = System.nanoTime();
            outstanding.incrementAndGet();
            system.api()
                    .submitAsync(GatewayClient.job("submit " + rate + " " + i, 1))
                    .whenComplete((s, e) -> {
                        long now = System.nanoTime();
                        outstanding.decrementAndGet();
                        if (e != null) {
                            failures.incrementAndGet();
                            return;
                        }
                        if (!s.accepted()) {
                            refused.incrementAndGet();
                            return;
                        }
                        ids.add(s.jobId());
                        if (measured) {
                            response.recordNanos(now - intended);
                            service.recordNanos(now - sent);
                        }
                    });
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (outstanding.get() > 0 && System.nanoTime() < deadline) {
            Sleep.millis(10);
        }
        java.util.Map<String, Double> cpuPercent = cpu == null ? java.util.Map.of() : cpu.stop();
        double achieved = (double) (total - warm) / ((System.nanoTime() - (start + warm * interval)) / 1e9);
        long failedJobs = tracker.awaitAll(List.copyOf(ids), Duration.ofMinutes(5));
        ids.forEach(tracker::forget);

        r.figure(Figure.of("submit", "POST /jobs p50 at " + rate + "/s", Latency.round3(response.millis(50)), "ms"));
        r.figure(Figure.of("submit", "POST /jobs p99 at " + rate + "/s", Latency.round3(response.millis(99)), "ms"));
        r.detail("offeredPerSecond", rate);
        r.detail("seconds", seconds);
        r.detail("answeredPerSecond", DutyScenario.round(achieved, 1));
        r.detail("workers", system.workers().size());
        r.detail("responseFromSchedule", response.summary());
        r.detail("serviceTime", service.summary());
        r.detail("refused", refused.get());
        r.detail("failures", failures.get());
        r.detail("failedJobs", failedJobs);
        r.detail("cpuPercentOfOneCore", cpuPercent);
        r.detail("trackerReconnects", tracker.reconnects());
        System.out.printf(
                "  submit at %d/s: p50 %.2f ms p99 %.2f ms max %.2f ms (service p99 %.2f ms), refused %d, failed %d; cpu %s%n",
                rate,
                response.millis(50),
                response.millis(99),
                response.maxMillis(),
                service.millis(99),
                refused.get(),
                failures.get(),
                cpuPercent);
        return r;
    }
}
