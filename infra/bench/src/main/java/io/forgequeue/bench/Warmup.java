package io.forgequeue.bench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Runs zero-latency jobs through a fresh system until its JVMs are warm: the just-in-time compilers of a Spring Boot
 * app keep a core busy for minutes after start on this shared 2-core machine, and that would be counted as the cost
 * of the jobs. The load runs in windows of 5 s; it stops once at least {@code minJobs} jobs ran and the JIT compiler
 * threads of the gateway and the workers together used less than 10 % of a core in a window (read from
 * {@code /proc}), or after {@code max}. Nothing is measured.
 */
final class Warmup {

    private static final long WINDOW_MILLIS = 5000;

    private Warmup() {}

    static void run(BenchSystem system, JobTracker tracker, int minJobs) {
        run(system, tracker, minJobs, Duration.ofSeconds(300));
    }

    static void run(BenchSystem system, JobTracker tracker, int minJobs, Duration max) {
        long start = System.nanoTime();
        system.stepTime(Duration.ZERO);
        List<String> trail = new ArrayList<>();
        try (ClosedLoop load = new ClosedLoop(system.api(), tracker, 100, 4, 1).start()) {
            while (true) {
                ProcStats.CpuMeter cpu = system.cpuMeter().start();
                long c0 = load.completed();
                Sleep.millis(WINDOW_MILLIS);
                long jobs = load.completed() - c0;
                Map<String, Double> used = cpu.stop();
                double perJob = jobs == 0
                        ? Double.NaN
                        : (used.get("gateway") + used.get("workers")) * 10 * (WINDOW_MILLIS / 1000.0) / jobs;
                double jit = used.get("gateway-jit") + used.get("workers-jit");
                trail.add(String.format(Locale.ROOT, "%.1f/%.0f%%", perJob, jit));
                boolean enough = load.completed() >= minJobs && jit < 10;
                if (enough || System.nanoTime() - start > max.toNanos()) {
                    break;
                }
                if (jobs == 0
                        && System.nanoTime() - start > Duration.ofSeconds(60).toNanos()) {
                    throw new IllegalStateException("warm-up: no job finished for " + WINDOW_MILLIS + " ms (last error "
                            + load.lastError() + ")");
                }
            }
            load.drain(Duration.ofMinutes(2));
            System.out.printf(
                    "  warm-up: %d jobs in %.1f s; by 5 s window, gateway+workers CPU ms per job / JIT %% of a core: %s%n",
                    load.completed(), (System.nanoTime() - start) / 1e9, String.join(" ", trail));
        }
    }
}
