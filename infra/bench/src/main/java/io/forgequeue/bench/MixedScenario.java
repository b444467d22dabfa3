package io.forgequeue.bench;

import io.forgequeue.forgesim.ForgeSimAdmin;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * The mixed fleet (issue 17's headline figure): 4 workers, each with its own forge-sim, 3 checkpoints that take 2, 3
 * and 4 s to load, jobs of 1-4 s, and 3 keys with different checkpoint mixes and rates that together ask for more
 * than the fleet can do, for a bounded time; run once per scheduler policy ({@code fifo}, {@code swarmui},
 * {@code invokeai}, {@code fair}) on systems that differ only in that setting, with the same jobs at the same times.
 * The fleet's figures ({@link MixedFigures}) come from the forge-sims' own stats, the keys' ({@link FairnessFigures})
 * from the jobs' times and the ETA each job showed when it was accepted.
 */
final class MixedScenario {

    static final List<String> KEYS = List.of("portraits", "products", "sketches");
    static final List<String> POLICIES = List.of("fifo", "swarmui", "invokeai", "fair");
    /** The checkpoints (forge-sim models {@code <name>.safetensors}) and their load times in milliseconds. */
    static final Map<String, Integer> CHECKPOINTS = Map.of("ckptA", 2000, "ckptB", 3000, "ckptC", 4000);

    static final int WORKERS = 4;
    static final int STEP_MILLIS = 100;
    static final int MIN_STEPS = 10;
    static final int MAX_STEPS = 40;
    /** A job takes 1-4 s: 2.5 s on average. */
    static final double MEAN_JOB_SECONDS = (MIN_STEPS + MAX_STEPS) / 2.0 * STEP_MILLIS / 1000.0;
    /** Slices of the fairness figures: 10 mean job times, as in the fairness scenario. */
    static final double SLICE_SECONDS = 10 * MEAN_JOB_SECONDS;

    private static final long SEED = 17;
    private static final int HISTORY_SAMPLES = 20;
    private static final int PRIMER_JOBS = 12;

    /**
     * One key's load: a job every {@code periodMillis} (from {@code offsetMillis}), its checkpoint drawn with the
     * given weights.
     */
    record KeyLoad(String key, long periodMillis, long offsetMillis, Map<String, Double> mix) {}

    /** The keys: portraits mostly A, products B and C, sketches all three; 2.1 jobs/s of 2.5 s = 5.3 GPUs asked. */
    static final List<KeyLoad> LOADS = List.of(
            new KeyLoad("portraits", 1000, 0, ordered("ckptA", 0.8, "ckptB", 0.2)),
            new KeyLoad("products", 1400, 300, ordered("ckptB", 0.5, "ckptC", 0.5)),
            new KeyLoad("sketches", 2500, 700, ordered("ckptA", 1 / 3.0, "ckptB", 1 / 3.0, "ckptC", 1 / 3.0)));

    /** One planned submission. */
    record Planned(String key, long atMillis, String checkpoint, int steps) {}

    /** The measurement of one policy, for the comparison between policies. */
    record Measured(String policy, ScenarioResult result, MixedFigures.Fleet fleet) {}

    private MixedScenario() {}

    /**
     * Every submission of the scenario, in time order: each key's jobs over {@code seconds}, checkpoints and steps
     * (uniform in 10-40) drawn from a fixed seed, so every policy gets the same jobs at the same times.
     */
    static List<Planned> plan(int seconds) {
        Random random = new Random(SEED);
        List<Planned> out = new ArrayList<>();
        for (KeyLoad load : LOADS) {
            for (long at = load.offsetMillis(); at < seconds * 1000L; at += load.periodMillis()) {
                out.add(new Planned(
                        load.key(),
                        at,
                        draw(load.mix(), random.nextDouble()),
                        MIN_STEPS + random.nextInt(MAX_STEPS - MIN_STEPS + 1)));
            }
        }
        out.sort(java.util.Comparator.comparingLong(Planned::atMillis));
        return out;
    }

    private static String draw(Map<String, Double> mix, double u) {
        double sum = 0;
        String last = null;
        for (Map.Entry<String, Double> e : mix.entrySet()) {
            sum += e.getValue();
            last = e.getKey();
            if (u < sum) {
                return last;
            }
        }
        return last;
    }

    private static Map<String, Double> ordered(Object... pairs) {
        Map<String, Double> m = new LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            m.put((String) pairs[i], (Double) pairs[i + 1]);
        }
        return m;
    }

    /** forge-sim's flags: the three checkpoints with their own load times, 100 ms per step, no previews. */
    static List<String> simArgs() {
        List<String> models = new ArrayList<>();
        List<String> loads = new ArrayList<>();
        CHECKPOINTS.keySet().stream().sorted().forEach(c -> {
            models.add(c + ".safetensors");
            loads.add(c + "=" + CHECKPOINTS.get(c));
        });
        return List.of(
                "--step-ms",
                Integer.toString(STEP_MILLIS),
                "--model-load-ms",
                "3000",
                "--preview-every",
                "-1",
                "--models",
                String.join(",", models),
                "--checkpoint-load-ms",
                String.join(",", loads));
    }

    static Map<String, Object> job(String prompt, int steps, String checkpoint) {
        Map<String, Object> body = GatewayClient.job(prompt, steps);
        body.put("checkpoint", checkpoint);
        return body;
    }

    /** Starts a system for {@code policy}, runs the scenario on it and stops it. */
    static Measured run(BenchContext ctx, Jars jars, String policy) {
        BenchOptions o = ctx.options();
        BenchSystem system = BenchSystem.start(
                ctx,
                "mixed-" + policy,
                jars,
                WORKERS,
                simArgs(),
                Map.of(
                        "GATEWAY_SCHEDULER_POLICY",
                        policy,
                        "GATEWAY_QUEUE_HISTORYSAMPLES",
                        Integer.toString(HISTORY_SAMPLES)),
                KEYS.size() + 1);
        try (JobTracker tracker = JobTracker.open(system)) {
            return measure(system, tracker, policy, o.mixedSeconds());
        } finally {
            system.close();
        }
    }

    private static Measured measure(BenchSystem system, JobTracker tracker, String policy, int seconds) {
        ScenarioResult r = new ScenarioResult("mixed", system.jars().label(), policy);
        List<String> apiKeys = system.apiKeys();
        List<String> names = CHECKPOINTS.keySet().stream().sorted().toList();
        List<Map<String, Object>> primer = new ArrayList<>();
        for (int i = 0; i < PRIMER_JOBS; i++) {
            primer.add(job("primer " + i, (MIN_STEPS + MAX_STEPS) / 2, names.get(i % names.size())));
        }
        Double mean = KeyedLoad.prime(system, tracker, apiKeys.get(KEYS.size()), primer, HISTORY_SAMPLES);

        List<ForgeSimAdmin> sims = system.simAdmins();
        List<Boolean> loadedAtStart = new ArrayList<>();
        List<String> modelsAtStart = new ArrayList<>();
        for (ForgeSimAdmin sim : sims) {
            String model = sim.state().loadedModel();
            loadedAtStart.add(model != null);
            modelsAtStart.add(model);
            sim.resetStats();
        }
        List<Planned> plan = plan(seconds);
        long t0 = System.nanoTime();
        KeyedLoad load = new KeyedLoad(system, apiKeys.get(0), mean, 4, "mixed");
        try {
            for (Planned p : plan) {
                String apiKey = apiKeys.get(KEYS.indexOf(p.key()));
                Map<String, Object> body = job(p.key() + " " + p.atMillis(), p.steps(), p.checkpoint());
                load.timer().schedule(() -> load.submit(body, apiKey, p.key()), p.atMillis(), TimeUnit.MILLISECONDS);
            }
            // every planned submission made (they may run late on a busy machine), or 60 s past the window
            long deadline = t0 + (seconds + 60L) * 1_000_000_000L;
            while (load.sent().size() < plan.size() && System.nanoTime() < deadline) {
                Sleep.millis(200);
            }
        } finally {
            load.close();
        }
        long failed = tracker.awaitAll(load.ids(), Duration.ofSeconds(600));
        double wallSeconds = (System.nanoTime() - t0) / 1e9;
        List<FairnessFigures.Job> jobs = load.finishedJobs(tracker);

        List<MixedFigures.Gpu> gpus = new ArrayList<>();
        List<Map<String, Object>> perGpu = new ArrayList<>();
        for (int i = 0; i < sims.size(); i++) {
            ForgeSimAdmin.DutyCycle d = sims.get(i).stats().duty();
            gpus.add(new MixedFigures.Gpu(
                    d.generatingMicros(), d.loadingMicros(), d.modelLoads(), loadedAtStart.get(i)));
            Map<String, Object> g = new LinkedHashMap<>();
            g.put("jobs", d.jobs());
            g.put("loads", d.modelLoads());
            g.put("loadedAtStart", modelsAtStart.get(i));
            g.put("loadedAtEnd", sims.get(i).state().loadedModel());
            g.put("generatingSeconds", DutyScenario.round(d.generatingMicros() / 1e6, 3));
            g.put("loadingSeconds", DutyScenario.round(d.loadingMicros() / 1e6, 3));
            perGpu.add(g);
        }
        double end =
                jobs.stream().mapToDouble(FairnessFigures.Job::finished).max().orElse(Double.NaN);
        double first =
                jobs.stream().mapToDouble(FairnessFigures.Job::submitted).min().orElse(Double.NaN);
        MixedFigures.Fleet fleet = MixedFigures.fleet(gpus, jobs.size(), end - first);
        Map<String, Double> weights = new LinkedHashMap<>();
        KEYS.forEach(k -> weights.put(k, 1.0));
        FairnessFigures.Result f = FairnessFigures.compute(jobs, weights, SLICE_SECONDS);

        figures(r, policy, fleet, f);
        r.detail("policy", policy);
        r.detail("workers", WORKERS);
        r.detail("checkpointLoadMillis", new java.util.TreeMap<>(CHECKPOINTS));
        r.detail("submitSeconds", seconds);
        r.detail("planned", plan.size());
        r.detail("submitted", load.sent().size());
        r.detail(
                "submittedPerKey",
                Map.of(
                        KEYS.get(0),
                        load.count(KEYS.get(0)),
                        KEYS.get(1),
                        load.count(KEYS.get(1)),
                        KEYS.get(2),
                        load.count(KEYS.get(2))));
        r.detail("failedJobs", failed);
        r.detail("wallSeconds", DutyScenario.round(wallSeconds, 3));
        r.detail("drainedAfterSeconds", DutyScenario.round(fleet.wallSeconds(), 3));
        r.detail("switches", fleet.switches());
        r.detail("gpus", perGpu);
        r.detail("meanJobSecondsBefore", mean);
        r.detail("sliceSeconds", SLICE_SECONDS);
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
                "  %s: useful GPU share %.1f %% (loading %.1f %%), %.1f switches per 100 jobs, drained after %.0f s;"
                        + " Jain %.3f over %d contended slices; ETA error p50 %.0f %% p90 %.0f %%;",
                policy,
                fleet.usefulShare() * 100,
                fleet.loadingShare() * 100,
                fleet.switchesPer100(),
                fleet.wallSeconds(),
                f.jain(),
                f.contendedSlices(),
                f.etaErrorP50() * 100,
                f.etaErrorP90() * 100));
        f.keys()
                .forEach((k, kf) -> line.append(
                        String.format(Locale.ROOT, " %s wait p50 %.1f s p95 %.1f s;", k, kf.waitP50(), kf.waitP95())));
        System.out.println(line.substring(0, line.length() - 1));
        return new Measured(policy, r, fleet);
    }

    private static void figures(ScenarioResult r, String policy, MixedFigures.Fleet fleet, FairnessFigures.Result f) {
        boolean ours = policy.equals("fair");
        r.figure(Figure.of("mixed", "useful GPU share", DutyScenario.round(fleet.usefulShare() * 100, 1), "%"));
        r.figure(Figure.of(
                "mixed", "GPU time loading checkpoints", DutyScenario.round(fleet.loadingShare() * 100, 1), "%"));
        r.figure(Figure.of(
                "mixed", "checkpoint switches per 100 jobs", DutyScenario.round(fleet.switchesPer100(), 1), ""));
        r.figure(Figure.of("mixed", "drained after", DutyScenario.round(fleet.wallSeconds(), 1), "s"));
        for (String k : KEYS) {
            FairnessFigures.KeyFigures kf = f.keys().get(k);
            r.figure(Figure.of("mixed", "wait p50, " + k, DutyScenario.round(kf.waitP50(), 2), "s"));
            r.figure(Figure.of("mixed", "wait p95, " + k, DutyScenario.round(kf.waitP95(), 2), "s"));
        }
        String jain = "Jain's index over the backlogged keys";
        double j = DutyScenario.round(f.jain(), 3);
        r.figure(ours ? Figure.atLeast("mixed", jain, j, "", 0.95) : Figure.of("mixed", jain, j, ""));
        String eta = "ETA error p50, share of the wait";
        double e50 = DutyScenario.round(f.etaErrorP50() * 100, 1);
        r.figure(ours ? Figure.atMost("mixed", eta, e50, "%", 20) : Figure.of("mixed", eta, e50, "%"));
        r.figure(Figure.of(
                "mixed", "ETA error p90, share of the wait", DutyScenario.round(f.etaErrorP90() * 100, 1), "%"));
        r.figure(Figure.of(
                "mixed",
                "ETA error p50 read as \"until done\", share of submit→done",
                DutyScenario.round(f.etaDoneErrorP50() * 100, 1),
                "%"));
        r.figure(Figure.of(
                "mixed",
                "ETA error p90 read as \"until done\", share of submit→done",
                DutyScenario.round(f.etaDoneErrorP90() * 100, 1),
                "%"));
    }

    /** The goals between the policies, added to {@code fair}'s result (when fair ran). */
    static void compare(List<Measured> measured) {
        Map<String, Double> useful = new LinkedHashMap<>();
        measured.forEach(m -> useful.put(m.policy(), m.fleet().usefulShare()));
        for (Measured m : measured) {
            if (m.policy().equals("fair")) {
                MixedFigures.comparison(useful, "fair", "fifo", 1.5, List.of("swarmui", "invokeai"))
                        .forEach(m.result()::figure);
            }
        }
    }
}
