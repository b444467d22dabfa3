package io.forgequeue.systemtest;

import io.forgequeue.forgesim.ForgeSimProcess;
import io.forgequeue.testsupport.AppLogs;
import io.forgequeue.testsupport.FreePort;
import io.forgequeue.testsupport.PostgresEndpoint;
import io.forgequeue.testsupport.RabbitEndpoint;
import io.forgequeue.testsupport.TestInfrastructure;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Supplier;

/**
 * The whole system as real processes: gateways and workers from their packaged jars, each worker with a forge-sim of
 * its own (one GPU each, as {@code infra/local/up.sh} runs them: two workers on one Forge would share its progress
 * and interrupt, and the scheduler refuses the second), against real RabbitMQ (a fresh virtual host, with the
 * firehose on so the test can see every message published, see {@link BrokerObserver}) and PostgreSQL (a fresh
 * database). By default those are the harness's shared test servers; {@link Builder#privateRabbit(int)} /
 * {@link Builder#privatePostgres(int)} start servers of the system's own instead (infra/local scripts, data under
 * {@code .run/faults}), which a test may stop, kill and restart.
 *
 * <p>The scheduler runs with timings for tests ({@link #SCHEDULER_GATEWAY_ENV}, {@link #SCHEDULER_WORKER_ENV}):
 * realistic, but quick enough that a lost worker's jobs run elsewhere within seconds. A test may override any of
 * them with {@link Builder#gatewayEnv} / {@link Builder#workerEnv}.
 */
final class ForgeQueueSystem implements AutoCloseable {

    /** API keys the gateways are started with (the first is "alice", the second "bob"). */
    static final String ALICE_KEY =
            "fq_test_alice_" + UUID.randomUUID().toString().replace("-", "");

    static final String BOB_KEY = "fq_test_bob_" + UUID.randomUUID().toString().replace("-", "");

    /** A worker that has not announced itself for this long is taken for lost and its jobs go to others. */
    static final Duration PRESENCE_TIMEOUT = Duration.ofSeconds(3);
    /** How often each worker announces itself. */
    static final Duration PRESENCE_INTERVAL = Duration.ofMillis(500);
    /** The scheduler lease: how long it lasts without renewal (about the failover time) and how often it is renewed. */
    static final Duration LEASE_TTL = Duration.ofSeconds(3);

    static final Duration LEASE_RENEW_INTERVAL = Duration.ofMillis(500);

    /** The gateways' scheduler settings for tests (the lease as in production, a shorter presence timeout). */
    static final Map<String, String> SCHEDULER_GATEWAY_ENV = Map.of(
            "GATEWAY_FLEET_PRESENCETIMEOUT",
            PRESENCE_TIMEOUT.toMillis() + "ms",
            "GATEWAY_SCHEDULER_LEASETTL",
            LEASE_TTL.toMillis() + "ms",
            "GATEWAY_SCHEDULER_RENEWINTERVAL",
            LEASE_RENEW_INTERVAL.toMillis() + "ms",
            // the scenarios' clients share two keys and are no abuse: far above what they send (issue 19's limits
            // have tests of their own, AbuseLimitsIT)
            "GATEWAY_RATELIMITS_REQUESTS_BURST",
            "100000",
            "GATEWAY_RATELIMITS_REQUESTS_PERSECOND",
            "100000",
            "GATEWAY_RATELIMITS_FRAMES_BURST",
            "100000",
            "GATEWAY_RATELIMITS_FRAMES_PERSECOND",
            "100000",
            "GATEWAY_WEBSOCKET_MAXSESSIONSPERKEY",
            "100000");
    /** The workers' presence settings for tests. */
    static final Map<String, String> SCHEDULER_WORKER_ENV =
            Map.of("WORKER_PRESENCE_INTERVAL", PRESENCE_INTERVAL.toMillis() + "ms");

    /** forge-sims still running; killed by a shutdown hook if the JVM ends before a system was closed. */
    private static final java.util.Set<ForgeSimProcess> LIVE_SIMS = java.util.concurrent.ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime()
                .addShutdownHook(new Thread(() -> LIVE_SIMS.forEach(ForgeSimProcess::kill), "forge-sim-reaper"));
    }

    private final String name;
    private final PrivateServer rabbitServer;
    private final PostgresEndpoint postgres;
    private final PrivateServer postgresServer;
    private final RabbitEndpoint rabbit;
    private final List<String> forgeArgs;
    private final List<ForgeSimProcess> forges = new ArrayList<>();
    private int forgesStarted;
    private final Map<AppProcess, ForgeSimProcess> forgeOfWorker = new HashMap<>();
    private final List<AppProcess> gateways = new ArrayList<>();
    private final List<AppProcess> workers = new ArrayList<>();
    private final Map<String, String> workerEnv;
    private final Map<String, String> gatewayEnv;

    private ForgeQueueSystem(Builder b) {
        this.name = b.name;
        this.forgeArgs = List.copyOf(b.forgeArgs);
        this.workerEnv = Map.copyOf(b.workerEnv);
        this.gatewayEnv = Map.copyOf(b.gatewayEnv);
        PrivateServer startedRabbit = null;
        PrivateServer startedPostgres = null;
        try {
            if (b.privateRabbitPort > 0) {
                startedRabbit = PrivateServer.rabbit(b.privateRabbitPort);
                startedRabbit.startFresh();
            }
            if (b.privatePostgresPort > 0) {
                startedPostgres = PrivateServer.postgres(b.privatePostgresPort);
                startedPostgres.startFresh();
            }
            PostgresEndpoint database =
                    startedPostgres != null ? startedPostgres.postgresEndpoint() : TestInfrastructure.postgres();
            this.rabbit = VirtualHosts.createFresh(
                    startedRabbit != null ? startedRabbit.rabbitEndpoint() : TestInfrastructure.rabbit(),
                    "sys_" + name);
            this.postgres = database.withFreshDatabase("sys_" + name);
        } catch (RuntimeException e) {
            if (startedRabbit != null) {
                startedRabbit.close();
            }
            if (startedPostgres != null) {
                startedPostgres.close();
            }
            throw e;
        }
        this.rabbitServer = startedRabbit;
        this.postgresServer = startedPostgres;
    }

    /**
     * Starts {@code gatewayCount} gateways and {@code workerCount} workers, each worker with a forge-sim run with
     * {@code forgeArgs}.
     * Everything started is stopped again if a later part fails to start.
     */
    static ForgeQueueSystem start(
            String name, int gatewayCount, int workerCount, List<String> forgeArgs, Map<String, String> workerEnv) {
        return builder(name)
                .gateways(gatewayCount)
                .workers(workerCount)
                .forgeArgs(forgeArgs)
                .workerEnv(workerEnv)
                .start();
    }

    static Builder builder(String name) {
        return new Builder(name);
    }

    /** How to start a system. */
    static final class Builder {
        private final String name;
        private int gatewayCount = 1;
        private int workerCount = 1;
        private List<String> forgeArgs = List.of();
        private final Map<String, String> workerEnv = new LinkedHashMap<>();
        private final Map<String, String> gatewayEnv = new LinkedHashMap<>();
        private int privateRabbitPort;
        private int privatePostgresPort;

        private Builder(String name) {
            this.name = name;
        }

        Builder gateways(int count) {
            gatewayCount = count;
            return this;
        }

        Builder workers(int count) {
            workerCount = count;
            return this;
        }

        Builder forgeArgs(List<String> args) {
            forgeArgs = List.copyOf(args);
            return this;
        }

        Builder forgeArgs(String... args) {
            return forgeArgs(List.of(args));
        }

        Builder workerEnv(Map<String, String> env) {
            workerEnv.putAll(env);
            return this;
        }

        Builder gatewayEnv(Map<String, String> env) {
            gatewayEnv.putAll(env);
            return this;
        }

        /** A RabbitMQ node of this system's own on {@code port}, started fresh and stopped with the system. */
        Builder privateRabbit(int port) {
            privateRabbitPort = port;
            return this;
        }

        /** A PostgreSQL cluster of this system's own on {@code port}, started fresh and stopped with the system. */
        Builder privatePostgres(int port) {
            privatePostgresPort = port;
            return this;
        }

        /**
         * Starts everything: the first gateway alone (it migrates the schema), then the other gateways and the
         * workers side by side. Everything started is stopped again if a part fails to start.
         */
        ForgeQueueSystem start() {
            ForgeQueueSystem system = new ForgeQueueSystem(this);
            try {
                if (gatewayCount > 0) {
                    system.addGateway();
                }
                List<Supplier<AppProcess>> rest = new ArrayList<>();
                for (int i = 2; i <= gatewayCount; i++) {
                    rest.add(system::addGateway);
                }
                for (int i = 1; i <= workerCount; i++) {
                    rest.add(system::addWorker);
                }
                startSideBySide(rest);
                return system;
            } catch (RuntimeException e) {
                try {
                    system.close();
                } catch (RuntimeException closing) {
                    e.addSuppressed(closing);
                }
                throw e;
            }
        }
    }

    private static void startSideBySide(List<Supplier<AppProcess>> starts) {
        if (starts.isEmpty()) {
            return;
        }
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(3, starts.size()));
        try {
            List<Future<AppProcess>> futures = new ArrayList<>();
            for (Supplier<AppProcess> s : starts) {
                futures.add(pool.submit(s::get));
            }
            RuntimeException failure = null;
            for (Future<AppProcess> f : futures) {
                try {
                    f.get();
                } catch (ExecutionException e) {
                    if (failure == null) {
                        failure = e.getCause() instanceof RuntimeException r
                                ? r
                                : new IllegalStateException(e.getCause());
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException(e);
                }
            }
            if (failure != null) {
                throw failure;
            }
        } finally {
            pool.shutdownNow();
        }
    }

    AppProcess addGateway() {
        String id;
        int index;
        synchronized (gateways) {
            index = gateways.size();
            id = name + "-gw" + (index + 1);
            gateways.add(null); // reserves the index; set below
        }
        Map<String, String> env = brokerEnv();
        env.putAll(postgres.appEnvironment());
        env.put("GATEWAY_INSTANCE_ID", id);
        env.put("GATEWAY_BOOTSTRAP_API_KEY", ALICE_KEY + "," + BOB_KEY);
        env.putAll(SCHEDULER_GATEWAY_ENV);
        env.putAll(gatewayEnv);
        AppProcess gw = AppProcess.start(id, SystemPaths.gatewayJar(), env, FreePort.next(), FreePort.next());
        synchronized (gateways) {
            gateways.set(index, gw);
        }
        return gw;
    }

    AppProcess addWorker() {
        String id;
        int index;
        synchronized (workers) {
            index = workers.size();
            id = name + "-w" + (index + 1);
            workers.add(null);
        }
        ForgeSimProcess sim = startForge();
        synchronized (forges) {
            forges.add(sim);
        }
        Map<String, String> env = brokerEnv();
        env.put("FORGE_URL", sim.baseUrl().toString());
        env.put("WORKER_ID", id);
        env.put("WORKER_POOL", "default");
        env.putAll(SCHEDULER_WORKER_ENV);
        env.putAll(workerEnv);
        AppProcess w = AppProcess.start(id, SystemPaths.workerJar(), env, FreePort.next());
        synchronized (workers) {
            workers.set(index, w);
            forgeOfWorker.put(w, sim);
        }
        return w;
    }

    /**
     * Starts one more worker with a forge-sim of its own run with {@code forgeArgs} instead of the system's (a GPU
     * that offers other checkpoints, or loads them at another speed), whether or not the system was built with
     * {@link Builder#forgePerWorker()}. Safe to call from several threads at once (workers start side by side).
     */
    AppProcess addWorkerWithForge(List<String> forgeArgs) {
        String id;
        int index;
        synchronized (workers) {
            index = workers.size();
            id = name + "-w" + (index + 1);
            workers.add(null);
        }
        ForgeSimProcess sim = startForge(forgeArgs);
        synchronized (forges) {
            forges.add(sim);
        }
        Map<String, String> env = brokerEnv();
        env.put("FORGE_URL", sim.baseUrl().toString());
        env.put("WORKER_ID", id);
        env.put("WORKER_POOL", "default");
        env.putAll(workerEnv);
        AppProcess w = AppProcess.start(id, SystemPaths.workerJar(), env, FreePort.next());
        synchronized (workers) {
            workers.set(index, w);
            forgeOfWorker.put(w, sim);
        }
        return w;
    }

    private ForgeSimProcess startForge() {
        return startForge(forgeArgs);
    }

    private ForgeSimProcess startForge(List<String> args) {
        String simName;
        synchronized (forges) {
            simName = name + "-forge" + (++forgesStarted);
        }
        try {
            ForgeSimProcess.Builder builder = ForgeSimProcess.builder()
                    .args(args.toArray(String[]::new))
                    .echoOutput(false)
                    .logTo(AppLogs.register(simName, SystemPaths.logDir().resolve(simName + ".log")));
            Path simJar = selfContainedForgeSimJar();
            if (simJar != null) {
                builder.classpath(SystemPaths.stableCopy(simJar).toString()); // immune to a rebuild meanwhile
            }
            ForgeSimProcess sim = builder.start();
            LIVE_SIMS.add(sim);
            return sim;
        } catch (IOException e) {
            throw new UncheckedIOException("forge-sim did not start", e);
        }
    }

    /** The shaded forge-sim jar this test runs with, or null when forge-sim comes from class directories. */
    private static Path selfContainedForgeSimJar() {
        try {
            var source = ForgeSimProcess.class.getProtectionDomain().getCodeSource();
            if (source == null) {
                return null;
            }
            Path location = Path.of(source.getLocation().toURI());
            if (!Files.isRegularFile(location) || !location.toString().endsWith(".jar")) {
                return null;
            }
            try (java.util.zip.ZipFile zip = new java.util.zip.ZipFile(location.toFile())) {
                return zip.getEntry("io/forgequeue/forgesim/shaded/jackson/databind/json/JsonMapper.class") != null
                        ? location
                        : null;
            }
        } catch (IOException | java.net.URISyntaxException | RuntimeException e) {
            return null;
        }
    }

    private Map<String, String> brokerEnv() {
        return rabbit.appEnvironment();
    }

    String name() {
        return name;
    }

    AppProcess gateway(int index) {
        return gateways.get(index);
    }

    /** The gateways in start order (an entry is null while, or if, that gateway failed to start). */
    List<AppProcess> gateways() {
        synchronized (gateways) {
            return java.util.Collections.unmodifiableList(new ArrayList<>(gateways));
        }
    }

    /** The workers in start order (an entry is null while, or if, that worker failed to start). */
    List<AppProcess> workers() {
        synchronized (workers) {
            return java.util.Collections.unmodifiableList(new ArrayList<>(workers));
        }
    }

    /** The forge-sim of the first worker. */
    ForgeSimProcess forge() {
        synchronized (forges) {
            return forges.get(0);
        }
    }

    /** The forge-sim a worker drives. */
    ForgeSimProcess forgeOf(AppProcess worker) {
        synchronized (workers) {
            return forgeOfWorker.get(worker);
        }
    }

    List<ForgeSimProcess> forges() {
        synchronized (forges) {
            return List.copyOf(forges);
        }
    }

    RabbitEndpoint rabbit() {
        return rabbit;
    }

    PostgresEndpoint postgres() {
        return postgres;
    }

    /** The system's own RabbitMQ node ({@link Builder#privateRabbit}); fails when it uses the shared one. */
    PrivateServer rabbitServer() {
        if (rabbitServer == null) {
            throw new IllegalStateException("this system uses the shared test broker, which must not be restarted");
        }
        return rabbitServer;
    }

    /** The system's own PostgreSQL cluster ({@link Builder#privatePostgres}). */
    PrivateServer postgresServer() {
        if (postgresServer == null) {
            throw new IllegalStateException(
                    "this system uses the shared test database server, which must not be restarted");
        }
        return postgresServer;
    }

    /** A REST client of gateway {@code index} with {@code apiKey}. */
    Http http(int index, String apiKey) {
        return new Http(gateway(index).baseUrl(), apiKey);
    }

    WsClient ws(int index, String apiKey) {
        return WsClient.connect(gateway(index).baseUrl(), apiKey);
    }

    /** REST clients with {@code apiKey} of the gateways whose processes are alive, in index order. */
    List<Http> liveHttp(String apiKey) {
        return gateways().stream()
                .filter(g -> g != null && g.isAlive())
                .map(g -> new Http(g.baseUrl(), apiKey))
                .toList();
    }

    /** Base URLs of the gateways whose processes are alive. */
    List<String> liveGatewayUrls() {
        return gateways().stream()
                .filter(g -> g != null && g.isAlive())
                .map(AppProcess::baseUrl)
                .toList();
    }

    /** The actuators (management ports) of the live gateways: their {@code /actuator/prometheus}. */
    List<String> liveGatewayManagementUrls() {
        return gateways().stream()
                .filter(g -> g != null && g.isAlive())
                .map(AppProcess::managementUrl)
                .toList();
    }

    /**
     * Runs a query on the system's database and returns its rows (column label to value). Used to check what was
     * stored; the tests never write job data.
     */
    List<Map<String, Object>> sql(String query, Object... params) {
        try (Connection c = postgres.connect();
                PreparedStatement ps = c.prepareStatement(query)) {
            for (int i = 0; i < params.length; i++) {
                ps.setObject(i + 1, params[i]);
            }
            List<Map<String, Object>> rows = new ArrayList<>();
            if (!ps.execute()) {
                return rows;
            }
            try (ResultSet rs = ps.getResultSet()) {
                ResultSetMetaData meta = rs.getMetaData();
                while (rs.next()) {
                    Map<String, Object> row = new LinkedHashMap<>();
                    for (int i = 1; i <= meta.getColumnCount(); i++) {
                        row.put(meta.getColumnLabel(i), rs.getObject(i));
                    }
                    rows.add(row);
                }
            }
            return rows;
        } catch (SQLException e) {
            throw new IllegalStateException("query failed: " + query + ": " + e.getMessage(), e);
        }
    }

    /**
     * Runs a statement that changes data, for what an operator does by hand (README: API keys are added and
     * disabled with SQL); never for job data. Returns the update count.
     */
    int operatorSql(String statement, Object... params) {
        try (Connection c = postgres.connect();
                PreparedStatement ps = c.prepareStatement(statement)) {
            for (int i = 0; i < params.length; i++) {
                ps.setObject(i + 1, params[i]);
            }
            return ps.executeUpdate();
        } catch (SQLException e) {
            throw new IllegalStateException("statement failed: " + statement + ": " + e.getMessage(), e);
        }
    }

    /** The scheduler lease as PostgreSQL has it: who holds it, its epoch (one more per change of holder), its expiry. */
    record Lease(String holder, long epoch, java.time.Instant expiresAt, boolean valid) {

        /** When it was taken or last renewed: its expiry minus the lease's time to live. */
        java.time.Instant renewedAt() {
            return expiresAt.minus(LEASE_TTL);
        }
    }

    Lease lease() {
        Map<String, Object> row = sql("""
                select holder, epoch, expires_at, expires_at > now() as valid from scheduler_lease where id = 1""").get(0);
        java.sql.Timestamp expires = (java.sql.Timestamp) row.get("expires_at");
        return new Lease(
                (String) row.get("holder"),
                ((Number) row.get("epoch")).longValue(),
                expires == null ? java.time.Instant.EPOCH : expires.toInstant(),
                Boolean.TRUE.equals(row.get("valid")));
    }

    /** The gateway that holds the scheduler lease now (the leader), or null when none holds a valid one. */
    AppProcess leader() {
        Lease lease = lease();
        if (!lease.valid()) {
            return null;
        }
        return gateways().stream()
                .filter(g -> g != null && g.name().equals(lease.holder()))
                .findFirst()
                .orElse(null);
    }

    /** The single number a query returns. */
    long sqlLong(String query, Object... params) {
        Object v = sql(query, params).get(0).values().iterator().next();
        return v == null ? 0 : ((Number) v).longValue();
    }

    @Override
    public void close() {
        for (AppProcess w : workers()) {
            if (w != null) {
                w.stop(Duration.ofSeconds(15));
            }
        }
        for (AppProcess g : gateways()) {
            if (g != null) {
                g.stop(Duration.ofSeconds(15));
            }
        }
        for (ForgeSimProcess f : forges()) {
            f.close();
            LIVE_SIMS.remove(f);
        }
        if (rabbitServer == null) {
            VirtualHosts.delete(rabbit);
        }
        if (rabbitServer != null) {
            rabbitServer.close();
        }
        if (postgresServer != null) {
            postgresServer.close();
        }
    }

    /** A request body for {@code POST /api/v1/jobs}. */
    static Map<String, Object> job(String prompt, int steps) {
        Map<String, Object> body = new HashMap<>();
        body.put("prompt", prompt);
        body.put("width", 64);
        body.put("height", 64);
        body.put("steps", steps);
        body.put("seed", 1000 + Math.abs(prompt.hashCode() % 1000));
        return body;
    }
}
