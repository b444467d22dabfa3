package io.forgequeue.bench;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What to run and how big. Every option is a flag of {@code infra/bench/run.sh}; {@code --quick} shrinks every
 * scenario to a smoke run of a few minutes.
 */
record BenchOptions(
        List<String> scenarios,
        Path compareWith,
        int rabbitPort,
        int pgPort,
        Path runDir,
        Path outDir,
        boolean keepServers,
        boolean profile,
        String jfrSettings,
        String gatewayHeap,
        Map<String, String> gatewayEnv,
        Map<String, String> workerEnv,
        int dutyJobs,
        int dutyJobMillis,
        List<Integer> dutySizes,
        int overheadJobs,
        List<Integer> throughputWorkers,
        int throughputSeconds,
        int warmupSeconds,
        int throughputInFlight,
        List<Integer> submitRates,
        int submitSeconds,
        List<Integer> fanoutClients,
        int fanoutJobs,
        int fanoutRounds,
        int perfTestSeconds,
        List<Integer> perfTestConsumers,
        int apiKeys,
        int rounds,
        int fairnessFlood,
        int fairnessJobMillis,
        int fairnessMaxSeconds,
        int fairnessPrimer,
        List<String> fairnessPolicies,
        int mixedSeconds,
        List<String> mixedPolicies,
        boolean quick) {

    /** Key prefix (in gatewayEnv / workerEnv) of a setting for the baseline build only. */
    static final String BASELINE_ONLY = "baseline:";

    /** The extra environment of the app for one build ({@link Jars#label()}): common settings, then its own. */
    static Map<String, String> envFor(Map<String, String> env, String label) {
        Map<String, String> out = new LinkedHashMap<>();
        env.forEach((k, v) -> {
            if (!k.startsWith(BASELINE_ONLY)) {
                out.put(k, v);
            }
        });
        if (label.equals("baseline")) {
            env.forEach((k, v) -> {
                if (k.startsWith(BASELINE_ONLY)) {
                    out.put(k.substring(BASELINE_ONLY.length()), v);
                }
            });
        }
        return out;
    }

    static final List<String> ALL =
            List.of("ceiling", "duty", "overhead", "throughput", "submit", "fanout", "fairness");
    /** Scenarios that run only when named ({@code --scenarios scale}): not part of the default set. */
    static final List<String> ON_REQUEST = List.of("scale", "mixed");

    static String usage() {
        return """
                usage: infra/bench/run.sh [options]
                  --scenarios a,b,...     any of ceiling,duty,overhead,throughput,submit,fanout,fairness (default: all),
                                          or scale (the scheduler at scale, simulated workers; only when named),
                                          or mixed (issue 17's mixed fleet, 4 policies, ~12 min; only when named)
                  --compare-with DIR      also run every scenario on the api-gateway/gpu-worker jars in DIR (a baseline),
                                          interleaved with the current build, and report current/baseline ratios
                  --quick                 small sizes (a smoke run of a few minutes)
                  --profile               record JFR (settings=profile) of the gateway and workers into the run folder
                  --jfr-settings FILE     with --profile: another JFR configuration (.jfc), e.g. with thresholds of 0 ms
                  --out DIR               results folder (default infra/bench/target/bench-results/<time>)
                  --rabbit-port N         private broker (default 5704; management N+10000)
                  --pg-port N             private PostgreSQL (default 55435)
                  --keep-servers          leave the private broker and database running afterwards
                  --gateway-env K=V       extra environment for the gateway (repeatable)
                  --worker-env K=V        extra environment for the workers (repeatable)
                  --baseline-gateway-env K=V, --baseline-worker-env K=V
                                          with --compare-with: environment for the baseline build only (on top of
                                          the above), e.g. to compare two settings of one build in one run
                  --duty-jobs N           backlog of the duty-cycle run (100)      --duty-job-ms N (500)
                  --duty-sizes L          image sides of the duty-cycle runs (64,512: the pipeline alone, a real image)
                  --overhead-jobs N       sequential jobs of the overhead run (300)
                  --throughput-workers L  worker counts (1,2,4)  --throughput-seconds N (20)  --warmup-seconds N (8)
                  --throughput-in-flight N  jobs submitted but not finished, kept by the closed-loop driver (200)
                  --submit-rates L        offered POST rates per second (200,500)  --submit-seconds N (10)
                  --fanout-clients L      WebSocket clients (1000,5000)  --fanout-jobs N (10)  --fanout-rounds N (3)
                  --perftest-seconds N    per PerfTest run (15)   --perftest-consumers L (1,2,4)
                  --fairness-flood N      jobs the flooding key submits at once (100)
                  --fairness-job-ms N     time of one job of the fairness scenario (1000)
                  --fairness-max-seconds N  the steady and trickle keys stop submitting after this, drained or not (300)
                  --fairness-primer N     jobs run before the fairness measurement so the gateway's job times are
                                          right (30; 0 = none: the cost estimates start from the gateway's default)
                  --fairness-policies L   scheduler policies to run the fairness scenario with (fifo,fair)
                  --mixed-seconds N       how long the mixed scenario's keys submit (60; --quick 30)
                  --mixed-policies L      scheduler policies of the mixed scenario (fifo,swarmui,invokeai,fair)
                  --rounds N              measurements per scenario and build, alternating the builds (3 with
                                          --compare-with, else 1); the table shows the median
                  --api-keys N            API keys ("users") the load is spread over, each with its own WebSocket
                                          client watching all its jobs (16)
                """;
    }

    static BenchOptions parse(String[] args, Path root) {
        Map<String, String> v = new LinkedHashMap<>();
        Map<String, String> gatewayEnv = new LinkedHashMap<>();
        Map<String, String> workerEnv = new LinkedHashMap<>();
        boolean quick = false;
        boolean keep = false;
        boolean profile = false;
        List<String> list = Arrays.asList(args);
        for (int i = 0; i < list.size(); i++) {
            String a = list.get(i);
            switch (a) {
                case "--quick" -> quick = true;
                case "--keep-servers" -> keep = true;
                case "--profile" -> profile = true;
                case "--help", "-h" -> throw new IllegalArgumentException(usage());
                default -> {
                    if (!a.startsWith("--") || i + 1 >= list.size()) {
                        throw new IllegalArgumentException("unexpected argument '" + a + "'\n" + usage());
                    }
                    String value = list.get(++i);
                    if (a.equals("--gateway-env")
                            || a.equals("--worker-env")
                            || a.equals("--baseline-gateway-env")
                            || a.equals("--baseline-worker-env")) {
                        int eq = value.indexOf('=');
                        if (eq <= 0) {
                            throw new IllegalArgumentException(a + " needs K=V, got '" + value + "'");
                        }
                        String prefix = a.startsWith("--baseline-") ? BASELINE_ONLY : "";
                        (a.endsWith("gateway-env") ? gatewayEnv : workerEnv)
                                .put(prefix + value.substring(0, eq), value.substring(eq + 1));
                    } else {
                        v.put(a.substring(2), value);
                    }
                }
            }
        }
        List<String> scenarios =
                v.containsKey("scenarios") ? List.of(v.remove("scenarios").split(",")) : ALL;
        for (String s : scenarios) {
            if (!ALL.contains(s) && !ON_REQUEST.contains(s)) {
                throw new IllegalArgumentException("unknown scenario '" + s + "'\n" + usage());
            }
        }
        for (String policy : v.getOrDefault("fairness-policies", "fifo,fair").split(",")) {
            if (!List.of("fifo", "fair").contains(policy)) {
                throw new IllegalArgumentException("--fairness-policies takes fifo and/or fair, got '" + policy + "'");
            }
        }
        for (String policy : v.getOrDefault("mixed-policies", String.join(",", MixedScenario.POLICIES))
                .split(",")) {
            if (!MixedScenario.POLICIES.contains(policy)) {
                throw new IllegalArgumentException(
                        "--mixed-policies takes " + MixedScenario.POLICIES + ", got '" + policy + "'");
            }
        }
        String compare = v.remove("compare-with");
        String out = v.remove("out");
        Path outDir = out != null
                ? Path.of(out).toAbsolutePath()
                : root.resolve("infra/bench/target/bench-results")
                        .resolve(java.time.LocalDateTime.now()
                                .format(java.time.format.DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        BenchOptions o = new BenchOptions(
                scenarios,
                compare == null ? null : Path.of(compare).toAbsolutePath(),
                integer(v, "rabbit-port", 5704),
                integer(v, "pg-port", 55435),
                root.resolve(".run/bench"),
                outDir,
                keep,
                profile,
                v.getOrDefault("jfr-settings", "profile"),
                v.getOrDefault("gateway-heap", "768m"),
                gatewayEnv,
                workerEnv,
                integer(v, "duty-jobs", quick ? 30 : 100),
                integer(v, "duty-job-ms", 500),
                integers(v, "duty-sizes", quick ? "64" : "64,512"),
                integer(v, "overhead-jobs", quick ? 50 : 300),
                integers(v, "throughput-workers", quick ? "2" : "1,2,4"),
                integer(v, "throughput-seconds", quick ? 8 : 20),
                integer(v, "warmup-seconds", quick ? 4 : 8),
                integer(v, "throughput-in-flight", 200),
                integers(v, "submit-rates", quick ? "200" : "200,500"),
                integer(v, "submit-seconds", quick ? 5 : 10),
                integers(v, "fanout-clients", quick ? "200" : "1000,5000"),
                integer(v, "fanout-jobs", 10),
                integer(v, "fanout-rounds", quick ? 1 : 3),
                integer(v, "perftest-seconds", quick ? 5 : 15),
                integers(v, "perftest-consumers", quick ? "1,2" : "1,2,4"),
                integer(v, "api-keys", 16),
                integer(v, "rounds", compare != null ? 3 : 1),
                integer(v, "fairness-flood", quick ? 30 : 100),
                integer(v, "fairness-job-ms", 1000),
                integer(v, "fairness-max-seconds", quick ? 120 : 300),
                integer(v, "fairness-primer", 30),
                List.of(v.getOrDefault("fairness-policies", "fifo,fair").split(",")),
                integer(v, "mixed-seconds", quick ? 30 : 60),
                List.of(v.getOrDefault("mixed-policies", String.join(",", MixedScenario.POLICIES))
                        .split(",")),
                quick);
        v.remove("gateway-heap");
        v.remove("jfr-settings");
        for (String k : List.of(
                "rabbit-port",
                "pg-port",
                "duty-jobs",
                "duty-job-ms",
                "duty-sizes",
                "overhead-jobs",
                "throughput-workers",
                "throughput-seconds",
                "warmup-seconds",
                "throughput-in-flight",
                "submit-rates",
                "submit-seconds",
                "fanout-clients",
                "fanout-jobs",
                "fanout-rounds",
                "perftest-seconds",
                "perftest-consumers",
                "api-keys",
                "rounds",
                "fairness-flood",
                "fairness-job-ms",
                "fairness-max-seconds",
                "fairness-primer",
                "fairness-policies",
                "mixed-seconds",
                "mixed-policies")) {
            v.remove(k);
        }
        if (!v.isEmpty()) {
            throw new IllegalArgumentException("unknown option(s) " + v.keySet() + "\n" + usage());
        }
        return o;
    }

    private static int integer(Map<String, String> v, String key, int fallback) {
        String raw = v.get(key);
        try {
            return raw == null ? fallback : Integer.parseInt(raw.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + key + " needs an integer, got '" + raw + "'");
        }
    }

    private static List<Integer> integers(Map<String, String> v, String key, String fallback) {
        String raw = v.getOrDefault(key, fallback);
        List<Integer> out = new ArrayList<>();
        for (String part : raw.split(",")) {
            try {
                out.add(Integer.parseInt(part.strip()));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--" + key + " needs a comma list of integers, got '" + raw + "'");
            }
        }
        return List.copyOf(out);
    }

    /** The options as they go into the results file. */
    Map<String, Object> describe() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("scenarios", scenarios);
        m.put("compareWith", compareWith == null ? null : compareWith.toString());
        m.put("quick", quick);
        m.put("profile", profile);
        m.put("dutyJobs", dutyJobs);
        m.put("dutyJobMillis", dutyJobMillis);
        m.put("dutySizes", dutySizes);
        m.put("overheadJobs", overheadJobs);
        m.put("throughputWorkers", throughputWorkers);
        m.put("throughputSeconds", throughputSeconds);
        m.put("warmupSeconds", warmupSeconds);
        m.put("throughputInFlight", throughputInFlight);
        m.put("submitRates", submitRates);
        m.put("submitSeconds", submitSeconds);
        m.put("fanoutClients", fanoutClients);
        m.put("fanoutJobs", fanoutJobs);
        m.put("fanoutRounds", fanoutRounds);
        m.put("perfTestSeconds", perfTestSeconds);
        m.put("perfTestConsumers", perfTestConsumers);
        m.put("apiKeys", apiKeys);
        m.put("rounds", rounds);
        m.put("fairnessFlood", fairnessFlood);
        m.put("fairnessJobMillis", fairnessJobMillis);
        m.put("fairnessMaxSeconds", fairnessMaxSeconds);
        m.put("fairnessPrimer", fairnessPrimer);
        m.put("fairnessPolicies", fairnessPolicies);
        m.put("mixedSeconds", mixedSeconds);
        m.put("mixedPolicies", mixedPolicies);
        m.put("gatewayHeap", gatewayHeap);
        m.put("gatewayEnv", gatewayEnv);
        m.put("workerEnv", workerEnv);
        return m;
    }
}
