package io.forgequeue.bench;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Throughput of the whole pipeline (submit, outbox, job queue, worker, events with confirms, merge, relay, WebSocket)
 * with a zero-latency forge-sim: a closed loop keeps a fixed number of jobs in flight, so the pipeline runs as fast
 * as its slowest stage. Queue depths (sampled every second) and the CPU each process used tell which stage that is.
 */
final class ThroughputScenario {

    private ThroughputScenario() {}

    static ScenarioResult run(BenchContext ctx, BenchSystem system, JobTracker tracker) {
        BenchOptions o = ctx.options();
        int workers = system.workers().size();
        ScenarioResult r = new ScenarioResult("throughput", system.jars().label());
        system.stepTime(Duration.ZERO);
        Map<String, List<Long>> depths = new ConcurrentHashMap<>();
        try (ClosedLoop load = new ClosedLoop(system.api(), tracker, o.throughputInFlight(), 8, 1).start()) {
            Sleep.millis(o.warmupSeconds() * 1000L);
            load.resetLatency();
            StageTimes stages = new StageTimes();
            tracker.onTerminal(stages::record);
            long c0 = load.completed();
            long s0 = load.submitted();
            long t0 = System.nanoTime();
            ProcStats.CpuMeter cpu = system.cpuMeter().start();
            AtomicBoolean sampling = new AtomicBoolean(true);
            Thread sampler = new Thread(
                    () -> {
                        while (sampling.get()) {
                            try {
                                system.queueDepths()
                                        .forEach((q, d) -> depths.computeIfAbsent(q, k -> new ArrayList<>())
                                                .add(d));
                            } catch (RuntimeException e) {
                                // a missed sample
                            }
                            Sleep.millis(1000);
                        }
                    },
                    "queue-sampler");
            sampler.setDaemon(true);
            sampler.start();
            Sleep.millis(o.throughputSeconds() * 1000L);
            long c1 = load.completed();
            long s1 = load.submitted();
            long t1 = System.nanoTime();
            Map<String, Double> cpuPercent = cpu.stop();
            sampling.set(false);
            tracker.onTerminal(null);
            double seconds = (t1 - t0) / 1e9;
            double rate = (c1 - c0) / seconds;
            double submitRate = (s1 - s0) / seconds;
            Latency e2e = load.latency();
            load.drain(Duration.ofMinutes(3));

            Map<String, Object> depthSummary = new LinkedHashMap<>();
            depths.forEach((q, list) -> {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("mean", list.stream().mapToLong(Long::longValue).average().orElse(0));
                m.put("max", list.stream().mapToLong(Long::longValue).max().orElse(0));
                m.put("samples", list);
                depthSummary.put(q, m);
            });
            String stage = saturatedStage(depths, o.throughputInFlight(), cpuPercent);
            String name = "jobs/s with " + workers + (workers == 1 ? " worker" : " workers");
            if (workers == 2) {
                r.figure(Figure.atLeast("throughput", name, DutyScenario.round(rate, 1), "jobs/s", 650));
            } else {
                r.figure(Figure.of("throughput", name, DutyScenario.round(rate, 1), "jobs/s"));
            }
            r.detail("workers", workers);
            r.detail("seconds", DutyScenario.round(seconds, 2));
            r.detail("jobsPerSecond", DutyScenario.round(rate, 1));
            r.detail("submittedPerSecond", DutyScenario.round(submitRate, 1));
            r.detail("inFlight", o.throughputInFlight());
            r.detail("refused", load.refused());
            r.detail("errors", load.errors());
            r.detail("failedJobs", load.failedJobs());
            r.detail("endToEnd", e2e.summary());
            r.detail("stages", stages.summary());
            r.detail("cpuPercentOfOneCore", cpuPercent);
            Map<String, Double> perJob = new LinkedHashMap<>();
            cpuPercent.forEach((k, v) -> perJob.put(k, rate <= 0 ? null : DutyScenario.round(v * 10 / rate, 3)));
            r.detail("cpuMillisPerJob", perJob);
            r.detail("queueDepths", depthSummary);
            r.detail("saturatedStage", stage);
            r.detail("trackerReconnects", tracker.reconnects());
            System.out.printf(
                    "  throughput, %d worker(s): %.1f jobs/s (submitted %.1f/s), e2e p50 %.1f ms; cpu %s; "
                            + "queues %s; saturated: %s%n",
                    workers, rate, submitRate, e2e.millis(50), cpuPercent, means(depths), stage);
        }
        return r;
    }

    /** Where the jobs wait: the queue in front of the slowest stage fills up, the others stay near empty. */
    static String saturatedStage(Map<String, List<Long>> depths, int inFlight, Map<String, Double> cpu) {
        double jobs = mean(depths.get("jobs"));
        double persist = mean(depths.get("persist"));
        double relay = mean(depths.get("relay"));
        String where;
        if (jobs >= Math.max(persist, relay) && jobs > 0.1 * inFlight) {
            where = "job hand-out to the workers (the jobs wait QUEUED for the scheduler, which gives each worker one"
                    + " job beyond the one it runs: per job and worker the outcome confirm, its merge and the next"
                    + " assignment)";
        } else if (persist >= relay && persist > 0.1 * inFlight) {
            where = "event merge (events wait in forge.events.persist)";
        } else if (relay > 0.1 * inFlight) {
            where = "relay to WebSocket (updates wait in the gateway's relay queue)";
        } else {
            where = "submission (POST /jobs: request handling and the insert; no queue fills up)";
        }
        Double machine = cpu.get("machine");
        if (machine != null && machine >= 185) {
            where += "; the machine's 2 cores are saturated (" + machine + " % busy)";
        }
        return where;
    }

    private static double mean(List<Long> values) {
        return values == null
                ? 0
                : values.stream().mapToLong(Long::longValue).average().orElse(0);
    }

    private static Map<String, String> means(Map<String, List<Long>> depths) {
        Map<String, String> out = new LinkedHashMap<>();
        depths.forEach((q, l) -> out.put(q, String.format(java.util.Locale.ROOT, "%.0f", mean(l))));
        return out;
    }

    /** The job's timestamps split its life into stages (all stamped on this machine's clock). */
    static final class StageTimes {
        private final Latency queued = new Latency();
        private final Latency running = new Latency();
        private final Latency toClient = new Latency();

        void record(JobTracker.Terminal t) {
            Instant created = Json.instant(t.job(), "createdAt");
            Instant started = Json.instant(t.job(), "startedAt");
            Instant finished = Json.instant(t.job(), "finishedAt");
            if (created == null || started == null || finished == null || t.caughtUp()) {
                return;
            }
            queued.recordMicros(Json.micros(created, started));
            running.recordMicros(Json.micros(started, finished));
            toClient.recordMicros(Json.micros(finished, t.receivedAt()));
        }

        Map<String, Object> summary() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("created -> RUNNING emitted (queue wait + dispatch)", queued.summary());
            m.put("RUNNING -> SUCCEEDED emitted (on the worker)", running.summary());
            m.put("SUCCEEDED emitted -> client received", toClient.summary());
            return m;
        }
    }
}
