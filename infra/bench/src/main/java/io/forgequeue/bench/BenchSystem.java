package io.forgequeue.bench;

import io.forgequeue.forgesim.ForgeSimAdmin;
import io.forgequeue.forgesim.ForgeSimProcess;
import io.forgequeue.testsupport.FreePort;
import io.forgequeue.testsupport.PostgresEndpoint;
import io.forgequeue.testsupport.RabbitEndpoint;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import tools.jackson.databind.JsonNode;

/**
 * The whole system for one scenario, as real processes on loopback: one gateway and N workers from the packaged
 * jars, each worker with its own forge-sim (one worker per Forge, as in production), against a fresh virtual host on
 * the benchmark's broker and a fresh database on its PostgreSQL.
 */
final class BenchSystem implements AutoCloseable {

    static final String POOL = "default";
    /**
     * How long an app (or a forge-sim) may take to become ready: on this shared 2-core machine a worker took 168 s at
     * a load of 30, and forge-sim missed its default start-up timeout at a load of 45.
     */
    private static final Duration STARTUP = Duration.ofSeconds(300);

    private final BenchContext ctx;
    private final String name;
    private final Jars jars;
    private final RabbitEndpoint rabbit;
    private final PostgresEndpoint postgres;
    /** API keys of the system, like independent users: load spreads over them (each has its own in-flight cap). */
    private final List<String> apiKeys = new ArrayList<>();

    private final List<ForgeSimProcess> sims = new ArrayList<>();
    private final List<AppProcess> workers = new ArrayList<>();
    private final List<String> simArgs;
    /** Gateway settings of this system alone (e.g. the scheduler policy), on top of everything else. */
    private final Map<String, String> gatewayEnv;

    private AppProcess gateway;
    private GatewayClient api;

    private BenchSystem(
            BenchContext ctx,
            String name,
            Jars jars,
            List<String> simArgs,
            Map<String, String> gatewayEnv,
            int keyCount) {
        this.ctx = ctx;
        this.name = name;
        this.jars = jars;
        this.simArgs = List.copyOf(simArgs);
        this.gatewayEnv = Map.copyOf(gatewayEnv);
        for (int i = 0; i < Math.max(1, keyCount); i++) {
            apiKeys.add("fq_bench_" + i + "_" + UUID.randomUUID().toString().replace("-", ""));
        }
        RabbitEndpoint broker = ctx.servers().rabbit();
        String vhost = "bench_" + name + "_" + UUID.randomUUID().toString().substring(0, 8);
        ctx.rabbitAdmin().createVhost(vhost, broker.username());
        this.rabbit = new RabbitEndpoint(
                broker.host(), broker.port(), broker.username(), broker.password(), broker.managementPort(), vhost);
        this.postgres = ctx.servers().postgres().withFreshDatabase("bench_" + name);
    }

    /**
     * Starts forge-sims and workers ({@code workers} of each) and the gateway, in parallel, and waits until they are
     * ready and the gateway hands out jobs (see {@link #awaitScheduling}).
     */
    static BenchSystem start(BenchContext ctx, String name, Jars jars, int workers, List<String> simArgs) {
        return start(ctx, name, jars, workers, simArgs, Map.of(), ctx.options().apiKeys());
    }

    /** The same with gateway settings for this system alone and {@code apiKeys} API keys. */
    static BenchSystem start(
            BenchContext ctx,
            String name,
            Jars jars,
            int workers,
            List<String> simArgs,
            Map<String, String> gatewayEnv,
            int apiKeys) {
        BenchSystem system = new BenchSystem(ctx, name, jars, simArgs, gatewayEnv, apiKeys);
        try {
            system.startGateway();
            system.addWorkers(workers);
            system.gateway.awaitReady(STARTUP);
            system.api = new GatewayClient(system.gateway.baseUrl(), system.gateway.managementUrl(), system.apiKeys);
            system.awaitScheduling(Duration.ofSeconds(60));
            return system;
        } catch (RuntimeException e) {
            system.close();
            throw e;
        }
    }

    private void startGateway() {
        Map<String, String> env = brokerEnv();
        env.putAll(postgres.appEnvironment());
        env.put("GATEWAY_INSTANCE_ID", name + "-gw1");
        env.put("GATEWAY_BOOTSTRAP_API_KEY", String.join(",", apiKeys));
        // each key may have 1,000 jobs waiting (the scheduler's gateway.quotas.max-queued, default 50, would refuse
        // a scenario's backlog with 429; builds before the scheduler had the in-flight cap instead)
        env.put("GATEWAY_QUOTAS_MAXQUEUED", "1000");
        // a load generator, not abuse: the per-key rate limits far above what it sends
        env.put("GATEWAY_RATELIMITS_REQUESTS_BURST", "1000000");
        env.put("GATEWAY_RATELIMITS_REQUESTS_PERSECOND", "1000000");
        env.put("GATEWAY_RATELIMITS_FRAMES_BURST", "1000000");
        env.put("GATEWAY_RATELIMITS_FRAMES_PERSECOND", "1000000");
        env.put("GATEWAY_WEBSOCKET_MAXSESSIONSPERKEY", "1000000");
        env.put("GATEWAY_WEBSOCKET_MAXUNAUTHENTICATEDSESSIONS", "1000000");
        env.put("GATEWAY_JOBS_MAXINFLIGHT", "1000");
        env.putAll(gatewayEnv);
        env.putAll(BenchOptions.envFor(ctx.options().gatewayEnv(), jars.label()));
        List<String> jvm =
                new ArrayList<>(List.of("-Xms256m", "-Xmx" + ctx.options().gatewayHeap()));
        jvm.addAll(ctx.profilingArgs(name + "-" + jars.label() + "-gateway"));
        gateway = AppProcess.launch(
                name + "-" + jars.label() + "-gateway",
                jars.gateway(),
                jvm,
                env,
                FreePort.next(),
                FreePort.next(),
                ctx.logDir());
    }

    /** Starts {@code count} more workers, each with its own forge-sim, and waits until all are ready. */
    void addWorkers(int count) {
        List<AppProcess> started = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            ForgeSimProcess sim;
            try {
                sim = ForgeSimProcess.builder()
                        .args(simArgs.toArray(String[]::new))
                        .echoOutput(false)
                        .startupTimeout(STARTUP)
                        .start();
            } catch (IOException e) {
                throw new UncheckedIOException("forge-sim did not start", e);
            }
            sims.add(sim);
            String id = name + "-w" + (workers.size() + 1);
            Map<String, String> env = brokerEnv();
            env.put("FORGE_URL", sim.baseUrl().toString());
            env.put("WORKER_ID", id);
            env.put("WORKER_POOL", POOL);
            env.putAll(BenchOptions.envFor(ctx.options().workerEnv(), jars.label()));
            List<String> jvm = new ArrayList<>(List.of("-Xms128m", "-Xmx256m"));
            jvm.addAll(ctx.profilingArgs(name + "-" + jars.label() + "-" + id));
            AppProcess w = AppProcess.launch(
                    name + "-" + jars.label() + "-" + id.substring(name.length() + 1),
                    jars.worker(),
                    jvm,
                    env,
                    FreePort.next(),
                    ctx.logDir());
            workers.add(w);
            started.add(w);
        }
        for (AppProcess w : started) {
            w.awaitReady(STARTUP);
        }
        if (api != null) {
            awaitScheduling(Duration.ofSeconds(60));
        }
    }

    /**
     * Waits until the gateway is the scheduler's leader ({@code gpu.gateway.scheduler.leader} = 1) and counts every
     * worker as available ({@code GET /api/v1/queue}): the workers announce themselves and the leader hands jobs
     * only to workers it knows, so a scenario that started earlier would measure the start-up. A build without the
     * scheduler (before issue 16) has neither figure and is not waited for.
     */
    void awaitScheduling(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        String last = "nothing read yet";
        while (true) {
            try {
                JsonNode leader = api.get("/actuator/metrics/gpu.gateway.scheduler.leader");
                JsonNode queue = api.get("/api/v1/queue");
                boolean leads = leader == null
                        || leader.path("measurements").path(0).path("value").asDouble(0) == 1;
                JsonNode available = queue == null ? null : queue.get("availableWorkers");
                boolean workersKnown = available == null || available.asInt() >= workers.size();
                if (leads && workersKnown) {
                    return;
                }
                last = "leader " + leads + ", available workers " + available + " of " + workers.size();
            } catch (RuntimeException e) {
                last = e.getMessage();
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(name + ": the gateway did not become the scheduler of " + workers.size()
                        + " worker(s) within " + timeout + " (" + last + ")");
            }
            Sleep.millis(100);
        }
    }

    /** Stops the last {@code count} workers (SIGTERM; they finish or give back their job) and their sims. */
    void stopWorkers(int count) {
        for (int i = 0; i < count && !workers.isEmpty(); i++) {
            workers.remove(workers.size() - 1).stop(Duration.ofSeconds(40));
            sims.remove(sims.size() - 1).close();
        }
    }

    private Map<String, String> brokerEnv() {
        return rabbit.appEnvironment();
    }

    String name() {
        return name;
    }

    Jars jars() {
        return jars;
    }

    /** The settings this system's gateway got beyond the defaults: its own, then {@code --gateway-env}. */
    Map<String, String> gatewayEnv() {
        Map<String, String> env = new LinkedHashMap<>(gatewayEnv);
        env.putAll(BenchOptions.envFor(ctx.options().gatewayEnv(), jars.label()));
        return env;
    }

    GatewayClient api() {
        return api;
    }

    /** The first API key (scenarios that need one owner for all their jobs use it). */
    String apiKey() {
        return apiKeys.get(0);
    }

    List<String> apiKeys() {
        return List.copyOf(apiKeys);
    }

    AppProcess gateway() {
        return gateway;
    }

    List<AppProcess> workers() {
        return List.copyOf(workers);
    }

    List<ForgeSimProcess> sims() {
        return List.copyOf(sims);
    }

    List<ForgeSimAdmin> simAdmins() {
        return sims.stream().map(ForgeSimProcess::admin).toList();
    }

    RabbitEndpoint rabbit() {
        return rabbit;
    }

    /** Sets every sim's step time. */
    void stepTime(Duration step) {
        simAdmins().forEach(a -> a.stepTime(step));
    }

    /**
     * Jobs waiting for a GPU ({@code jobs}: QUEUED in PostgreSQL, the queue of record since the scheduler; before
     * it, the same jobs also sat in the broker's pool queue), jobs in the broker's job queues ({@code jobQueues}: the
     * per-worker queues, at most the lookahead each; before the scheduler, the pool queue), the persist queue and
     * this gateway's relay queue.
     */
    Map<String, Long> queueDepths() {
        Map<String, Long> all = ctx.rabbitAdmin().queueDepths(rabbit.virtualHost());
        Map<String, Long> out = new LinkedHashMap<>();
        out.put("jobs", queuedJobs());
        out.put(
                "jobQueues",
                all.entrySet().stream()
                        .filter(e -> e.getKey().startsWith("forge.jobs."))
                        .mapToLong(Map.Entry::getValue)
                        .sum());
        out.put("persist", all.getOrDefault("forge.events.persist", 0L));
        out.put("relay", all.getOrDefault("forge.events.relay." + name + "-gw1", 0L));
        return out;
    }

    /** QUEUED jobs in the system's database. */
    long queuedJobs() {
        try (Connection c = postgres.connect();
                Statement s = c.createStatement();
                java.sql.ResultSet rs = s.executeQuery("select count(*) from job where status = 'QUEUED'")) {
            rs.next();
            return rs.getLong(1);
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException("could not count the queued jobs: " + e.getMessage(), e);
        }
    }

    /** A CPU meter over every process of the system, the broker, PostgreSQL and this benchmark process. */
    ProcStats.CpuMeter cpuMeter() {
        long gw = gateway.pid();
        List<Long> workerPids = workers.stream().map(AppProcess::pid).toList();
        List<Long> simPids = sims.stream().map(ForgeSimProcess::pid).toList();
        long rabbitPid = ctx.servers().rabbitPid();
        long pgPid = ctx.servers().postgresPid();
        long self = ProcessHandle.current().pid();
        return new ProcStats.CpuMeter()
                .add("gateway", () -> ProcStats.cpuTicks(gw))
                .add(
                        "workers",
                        () -> workerPids.stream().mapToLong(ProcStats::cpuTicks).sum())
                .add(
                        "forge-sims",
                        () -> simPids.stream().mapToLong(ProcStats::cpuTicks).sum())
                .add("rabbitmq", () -> ProcStats.cpuTicks(rabbitPid))
                .add("postgres", () -> ProcStats.cpuTicksWithChildren(pgPid))
                .add("bench-client", () -> ProcStats.cpuTicks(self))
                .addPart("gateway-jit", () -> ProcStats.jitTicks(gw))
                .addPart(
                        "workers-jit",
                        () -> workerPids.stream().mapToLong(ProcStats::jitTicks).sum());
    }

    @Override
    public void close() {
        if (api != null) {
            api.close();
        }
        List<Thread> stoppers = new ArrayList<>();
        for (AppProcess w : workers) {
            Thread t = new Thread(() -> w.stop(Duration.ofSeconds(20)), "stop-" + w.name());
            t.start();
            stoppers.add(t);
        }
        stoppers.forEach(BenchSystem::join);
        if (gateway != null) {
            gateway.stop(Duration.ofSeconds(20));
        }
        sims.forEach(ForgeSimProcess::close);
        try {
            ctx.rabbitAdmin().deleteVhost(rabbit.virtualHost());
        } catch (RuntimeException e) {
            System.err.println("could not delete virtual host " + rabbit.virtualHost() + ": " + e.getMessage());
        }
        try (Connection c = ctx.servers().postgres().connect();
                Statement s = c.createStatement()) {
            s.execute("DROP DATABASE IF EXISTS \"" + postgres.database() + "\" WITH (FORCE)");
        } catch (Exception e) {
            System.err.println("could not drop database " + postgres.database() + ": " + e.getMessage());
        }
    }

    private static void join(Thread t) {
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    Path logDir() {
        return ctx.logDir();
    }
}
