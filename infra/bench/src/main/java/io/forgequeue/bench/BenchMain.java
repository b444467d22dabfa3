package io.forgequeue.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Entry point of the benchmarks ({@code infra/bench/run.sh}): starts a private broker and database, runs the chosen
 * scenarios against the real system started from the packaged jars, prints a table and writes
 * {@code results.json} and {@code summary.md}. With {@code --compare-with DIR} every scenario also runs on the jars
 * in DIR, interleaved with the current build, so each change is reported as a ratio measured in one run.
 */
public final class BenchMain {

    private BenchMain() {}

    public static void main(String[] args) {
        Path root = BenchPaths.root();
        BenchOptions options;
        ScaleOptions scale;
        try {
            List<String> rest = new ArrayList<>();
            scale = ScaleOptions.parse(args, rest, List.of(args).contains("--quick"));
            options = BenchOptions.parse(rest.toArray(String[]::new), root);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            if (e.getMessage() != null && e.getMessage().startsWith("usage:")) {
                System.err.print(ScaleOptions.usage());
            }
            System.exit(2);
            return;
        }
        int code = new BenchMain().run(root, options, scale, String.join(" ", args));
        System.exit(code);
    }

    private int run(Path root, BenchOptions o, ScaleOptions scale, String argLine) {
        String started = now();
        double loadAtStart = ProcStats.loadAverage();
        Path logDir = BenchPaths.createDirectories(o.outDir().resolve("logs"));
        List<Jars> jarSets = new ArrayList<>();
        if (o.compareWith() != null) {
            jarSets.add(Jars.in("baseline", o.compareWith()));
        }
        String currentDir = System.getenv("FQ_BENCH_CURRENT_JARS");
        Jars current = currentDir == null || currentDir.isBlank()
                ? Jars.current(root)
                : Jars.in("current", Path.of(currentDir).toAbsolutePath());
        jarSets.add(current.snapshot(o.outDir().resolve("jars")));
        System.out.printf(
                "Forge Queue benchmark: scenarios %s%s; results in %s%n",
                o.scenarios(), o.compareWith() == null ? "" : " (baseline jars: " + o.compareWith() + ")", o.outDir());
        System.out.printf("load average at start: %.2f%n", loadAtStart);
        String command = "infra/bench/run.sh" + (argLine.isBlank() ? "" : " " + argLine);
        try (BenchServers servers =
                BenchServers.start(root, o.runDir(), o.rabbitPort(), o.pgPort(), !o.keepServers())) {
            RabbitAdmin admin = new RabbitAdmin(servers.rabbit());
            BenchContext ctx = new BenchContext(o, servers, admin, o.outDir(), logDir);
            Map<String, Object> machine = machine(root, servers, admin, jarSets, loadAtStart);
            System.out.println("servers: " + servers.describe());
            Report report = new Report(machine, o, started);
            try {
                if (o.scenarios().contains("ceiling")) {
                    section("broker ceiling (RabbitMQ PerfTest)");
                    measure(report, () -> CeilingScenario.run(ctx));
                    report.write(o.outDir(), command, now(), ProcStats.loadAverage());
                }
                String builds = jarSets.size() > 1 ? " (" + jarSets.size() + " builds, interleaved)" : "";
                if (o.scenarios().contains("duty") || o.scenarios().contains("overhead")) {
                    section("duty cycle and pipeline overhead, 2 workers" + builds);
                    latencyGroup(ctx, jarSets, report);
                    report.write(o.outDir(), command, now(), ProcStats.loadAverage());
                }
                if (o.scenarios().contains("throughput") || o.scenarios().contains("submit")) {
                    section("throughput and submit latency" + builds);
                    throughputGroup(ctx, jarSets, report);
                    report.write(o.outDir(), command, now(), ProcStats.loadAverage());
                }
                if (o.scenarios().contains("fanout")) {
                    section("WebSocket fan-out" + builds);
                    fanOutGroup(ctx, jarSets, report);
                    report.write(o.outDir(), command, now(), ProcStats.loadAverage());
                }
                if (o.scenarios().contains("fairness")) {
                    section("fairness: 3 keys, 2 workers, scheduler policies " + o.fairnessPolicies()
                            + " side by side (current build)");
                    fairnessGroup(ctx, jarSets.get(jarSets.size() - 1), report);
                    report.write(o.outDir(), command, now(), ProcStats.loadAverage());
                }
                if (o.scenarios().contains("mixed")) {
                    section("mixed fleet: 4 workers, 3 checkpoints, 3 keys, scheduler policies " + o.mixedPolicies()
                            + " one after the other (current build)");
                    mixedGroup(ctx, jarSets.get(jarSets.size() - 1), report);
                    report.write(o.outDir(), command, now(), ProcStats.loadAverage());
                }
                if (o.scenarios().contains("scale")) {
                    section("the scheduler at scale: " + scale.workers() + " simulated workers, " + scale.keys()
                            + " keys, " + scale.jobs() + " jobs (current build)");
                    double before = ProcStats.loadAverage();
                    List<ScenarioResult> scaled;
                    try {
                        scaled = ScaleScenario.run(ctx, scale);
                    } catch (AssertionError e) { // test-support's readiness wait fails with an AssertionError
                        throw new IllegalStateException(e.getMessage(), e);
                    }
                    for (ScenarioResult r : scaled) {
                        r.detail("loadAverage1m", Map.of("before", before, "after", ProcStats.loadAverage()));
                        report.add(r);
                    }
                    report.write(o.outDir(), command, now(), ProcStats.loadAverage());
                }
            } finally {
                double loadAtEnd = ProcStats.loadAverage();
                report.write(o.outDir(), command, now(), loadAtEnd);
                System.out.println();
                if (!report.rows().isEmpty()) {
                    System.out.print(report.consoleTable());
                }
                String variants = report.variantConsoleTable();
                if (!variants.isEmpty()) {
                    System.out.println();
                    System.out.print(variants);
                }
                report.ceilingShares().forEach(line -> System.out.println("  " + line));
                System.out.printf("%nload average: %.2f at start, %.2f at end%n", loadAtStart, loadAtEnd);
                System.out.println("results: " + o.outDir().resolve("results.json") + " and "
                        + o.outDir().resolve("summary.md"));
            }
            return 0;
        } catch (RuntimeException e) {
            System.err.println("benchmark failed: " + e);
            e.printStackTrace();
            return 1;
        }
    }

    /** A started system and its job tracker. */
    private record Running(BenchSystem system, JobTracker tracker) implements AutoCloseable {
        @Override
        public void close() {
            if (tracker != null) {
                tracker.close();
            }
            system.close();
        }
    }

    /** Starts one system per jar set (in parallel processes) and warms each up. */
    private static List<Running> startAll(
            BenchContext ctx, String name, List<Jars> jarSets, int workers, int warmJobs, boolean keepTracker) {
        List<Running> out = new ArrayList<>();
        try {
            for (Jars jars : jarSets) {
                BenchSystem system =
                        BenchSystem.start(ctx, name, jars, workers, List.of("--step-ms", "0", "--model-load-ms", "0"));
                out.add(new Running(system, null));
            }
            for (int i = 0; i < out.size(); i++) {
                BenchSystem system = out.get(i).system();
                JobTracker tracker = JobTracker.open(system);
                System.out.println("  " + system.jars().label() + ":");
                Warmup.run(system, tracker, warmJobs);
                if (!keepTracker) {
                    tracker.close();
                    tracker = null;
                }
                out.set(i, new Running(system, tracker));
            }
            return out;
        } catch (RuntimeException e) {
            out.forEach(Running::close);
            throw e;
        }
    }

    /** The systems in the order of this round: alternating, so neither build always runs first. */
    private static List<Running> order(List<Running> systems, int round) {
        List<Running> list = new ArrayList<>(systems);
        if (round % 2 == 1) {
            java.util.Collections.reverse(list);
        }
        return list;
    }

    private static void latencyGroup(BenchContext ctx, List<Jars> jarSets, Report report) {
        BenchOptions o = ctx.options();
        List<Running> systems = startAll(ctx, "lat", jarSets, 2, o.quick() ? 100 : 400, true);
        try {
            for (int round = 0; round < o.rounds(); round++) {
                for (Running r : order(systems, round)) {
                    System.out.println(
                            "  round " + (round + 1) + ", " + r.system().jars().label() + ":");
                    if (o.scenarios().contains("duty")) {
                        for (int size : o.dutySizes()) {
                            measure(report, () -> DutyScenario.run(ctx, r.system(), r.tracker(), size));
                        }
                    }
                    if (o.scenarios().contains("overhead")) {
                        measure(report, () -> OverheadScenario.run(ctx, r.system(), r.tracker()));
                    }
                }
            }
        } finally {
            systems.forEach(Running::close);
        }
    }

    private static void throughputGroup(BenchContext ctx, List<Jars> jarSets, Report report) {
        BenchOptions o = ctx.options();
        List<Integer> counts = o.scenarios().contains("throughput") ? o.throughputWorkers() : List.of(2);
        boolean submitDone = !o.scenarios().contains("submit");
        List<Running> systems = startAll(ctx, "tput", jarSets, counts.get(0), o.quick() ? 200 : 1000, true);
        try {
            for (int workers : counts) {
                for (Running r : systems) {
                    BenchSystem system = r.system();
                    if (workers > system.workers().size()) {
                        system.addWorkers(workers - system.workers().size());
                        System.out.println("  " + system.jars().label() + ", " + workers + " workers:");
                        Warmup.run(system, r.tracker(), 300);
                    } else if (workers < system.workers().size()) {
                        system.stopWorkers(system.workers().size() - workers);
                    }
                }
                if (o.scenarios().contains("throughput")) {
                    for (int round = 0; round < o.rounds(); round++) {
                        for (Running r : order(systems, round)) {
                            measure(report, () -> ThroughputScenario.run(ctx, r.system(), r.tracker()));
                        }
                    }
                }
                if (!submitDone && (workers >= 2 || counts.indexOf(workers) == counts.size() - 1)) {
                    int i = 0;
                    for (int rate : o.submitRates()) {
                        for (Running r : order(systems, i++)) {
                            measure(report, () -> SubmitScenario.run(ctx, r.system(), r.tracker(), rate));
                        }
                    }
                    submitDone = true;
                }
            }
        } finally {
            systems.forEach(Running::close);
        }
    }

    private static void fanOutGroup(BenchContext ctx, List<Jars> jarSets, Report report) {
        BenchOptions o = ctx.options();
        List<Running> systems = startAll(ctx, "fan", jarSets, 2, o.quick() ? 50 : 300, false);
        try {
            int i = 0;
            for (int clients : o.fanoutClients()) {
                for (Running r : order(systems, i++)) {
                    measure(report, () -> FanOutScenario.run(ctx, r.system(), clients));
                }
            }
        } finally {
            systems.forEach(Running::close);
        }
    }

    /**
     * The fairness scenario on the current build, once per scheduler policy: one system per policy (started side by
     * side, each with fresh databases; the idle one costs next to nothing), the policies alternating round after
     * round.
     */
    private static void fairnessGroup(BenchContext ctx, Jars current, Report report) {
        BenchOptions o = ctx.options();
        List<FairnessScenario.PolicySystem> systems = new ArrayList<>();
        try {
            for (String policy : o.fairnessPolicies()) {
                systems.add(FairnessScenario.start(ctx, current, policy));
            }
            for (int round = 0; round < o.rounds(); round++) {
                List<FairnessScenario.PolicySystem> order = new ArrayList<>(systems);
                if (round % 2 == 1) {
                    java.util.Collections.reverse(order);
                }
                for (FairnessScenario.PolicySystem s : order) {
                    System.out.println("  round " + (round + 1) + ", policy " + s.policy() + ":");
                    measure(report, () -> FairnessScenario.run(ctx, s));
                }
            }
        } finally {
            systems.forEach(FairnessScenario.PolicySystem::close);
        }
    }

    /**
     * The mixed-fleet scenario on the current build, once per scheduler policy and round: each policy's system is
     * started for its run and stopped after it (4 gateways with 4 workers and 4 forge-sims each would not fit this
     * machine at once), the order of the policies reversed every other round. The goals between the policies are
     * added to {@code fair}'s results.
     */
    private static void mixedGroup(BenchContext ctx, Jars current, Report report) {
        BenchOptions o = ctx.options();
        List<MixedScenario.Measured> measured = new ArrayList<>();
        for (int round = 0; round < o.rounds(); round++) {
            List<String> order = new ArrayList<>(o.mixedPolicies());
            if (round % 2 == 1) {
                java.util.Collections.reverse(order);
            }
            for (String policy : order) {
                System.out.println("  round " + (round + 1) + ", policy " + policy + ":");
                double before = ProcStats.loadAverage();
                MixedScenario.Measured m = MixedScenario.run(ctx, current, policy);
                m.result().detail("loadAverage1m", Map.of("before", before, "after", ProcStats.loadAverage()));
                measured.add(m);
            }
        }
        // per round: the comparison of that round's policies
        for (int round = 0; round < o.rounds(); round++) {
            int n = o.mixedPolicies().size();
            MixedScenario.compare(measured.subList(round * n, round * n + n));
        }
        measured.forEach(m -> report.add(m.result()));
    }

    /** Runs one scenario and records the machine's load average before and after it (other users share it). */
    private static void measure(Report report, java.util.function.Supplier<ScenarioResult> scenario) {
        double before = ProcStats.loadAverage();
        ScenarioResult r = scenario.get();
        r.detail("loadAverage1m", java.util.Map.of("before", before, "after", ProcStats.loadAverage()));
        report.add(r);
    }

    private static void section(String title) {
        System.out.println();
        System.out.println("== " + title + " == (load " + ProcStats.loadAverage() + ")");
    }

    private static String now() {
        return OffsetDateTime.now().format(DateTimeFormatter.ISO_OFFSET_DATE_TIME);
    }

    private static Map<String, Object> machine(
            Path root, BenchServers servers, RabbitAdmin admin, List<Jars> jarSets, double loadAtStart) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("cpu", cpuModel());
        m.put("cores", Runtime.getRuntime().availableProcessors());
        m.put("memoryGb", memoryGb());
        m.put("kernel", read("/proc/sys/kernel/osrelease"));
        m.put("java", System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version"));
        try {
            m.put("rabbitmq", admin.rabbitVersion() + " (Erlang " + admin.erlangVersion() + ")");
        } catch (RuntimeException e) {
            m.put("rabbitmq", "?");
        }
        try (Connection c = servers.postgres().connect();
                Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("show server_version")) {
            rs.next();
            m.put("postgres", "PostgreSQL " + rs.getString(1) + " (fsync on)");
        } catch (Exception e) {
            m.put("postgres", "PostgreSQL ?");
        }
        m.put("git", git(root));
        Map<String, String> jars = new LinkedHashMap<>();
        jarSets.forEach(j ->
                jars.put(j.label(), j.gateway().getParent() + ", " + j.worker().getParent()));
        m.put("jars", jars);
        m.put("loadAverageAtStart", loadAtStart);
        return m;
    }

    private static String cpuModel() {
        try {
            return Files.readAllLines(Path.of("/proc/cpuinfo")).stream()
                    .filter(l -> l.startsWith("model name"))
                    .map(l -> l.substring(l.indexOf(':') + 1).strip())
                    .findFirst()
                    .orElse("?");
        } catch (IOException e) {
            return "?";
        }
    }

    private static long memoryGb() {
        try {
            String line = Files.readAllLines(Path.of("/proc/meminfo")).get(0);
            return Math.round(Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0 / 1024.0);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    private static String read(String file) {
        try {
            return Files.readString(Path.of(file)).strip();
        } catch (IOException e) {
            return "?";
        }
    }

    private static String git(Path root) {
        try {
            Process p = new ProcessBuilder("git", "-C", root.toString(), "describe", "--always", "--dirty")
                    .redirectErrorStream(true)
                    .start();
            String out = new String(p.getInputStream().readAllBytes()).strip();
            p.waitFor(10, TimeUnit.SECONDS);
            return out;
        } catch (IOException e) {
            return "?";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "?";
        }
    }
}
