package io.forgequeue.gateway.queue;

import static org.assertj.core.api.Assertions.assertThat;

import io.forgequeue.gateway.GatewayApplication;
import io.forgequeue.gateway.apikey.ApiKeys;
import io.forgequeue.gateway.job.JobMoves;
import io.forgequeue.gateway.system.ContractMessage;
import io.forgequeue.gateway.system.WireJson;
import io.forgequeue.model.GeneratedImage;
import io.forgequeue.model.JobEvent;
import io.forgequeue.model.JobStarted;
import io.forgequeue.model.JobSucceeded;
import io.forgequeue.model.Topology;
import io.forgequeue.testsupport.PostgresEndpoint;
import io.forgequeue.testsupport.RabbitEndpoint;
import io.forgequeue.testsupport.TestInfrastructure;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.BooleanSupplier;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.springframework.amqp.rabbit.connection.ConnectionFactory;
import org.springframework.amqp.rabbit.core.RabbitTemplate;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Import;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * No statement of a hand-out or a request scans the job table (issue 21): a realistic table is loaded (100,000
 * QUEUED jobs over 1,000 keys and 4 pools, 1,000 assigned or running, 150,000 finished with their history and images;
 * ANALYZE), then the real code paths run (submit, assign, revoke, the event merge of RUNNING and SUCCEEDED, cancel,
 * the stuck sweep, promotion of low-priority jobs, the queue stats refresh, the index's reload, job get/list, image
 * get, the queue overview) while a {@link java.lang.reflect.Proxy} around the DataSource's connections captures
 * every SQL statement with its bound parameters. Each captured statement is then EXPLAINed with the same parameters,
 * and the test fails on any sequential scan of {@code job}, {@code job_state_history} or {@code job_image}.
 *
 * <p>Self-contained on purpose (its own context, database and virtual host): the shared integration-test base is
 * not used. The scheduler is disabled so that this test takes the lease itself and decides what is assigned.
 */
@SpringBootTest(
        classes = GatewayApplication.class,
        webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {
            "gateway.instance-id=it-plans",
            "gateway.scheduler.enabled=false",
            "gateway.jobs.samplers=Euler a,DPM++ 2M",
            "gateway.queue.refresh-interval=200ms",
            "gateway.stuck-sweep.interval=300ms",
            "gateway.jobs.housekeeping-interval=300ms",
            "gateway.outbox.sweep-interval=200ms"
        })
@Import(QueryPlansIT.Capture.class) // with explicit classes, a nested configuration is not picked up on its own
class QueryPlansIT {

    static final RabbitEndpoint RABBIT = TestInfrastructure.rabbit().withFreshVirtualHost("plans-it");
    static final PostgresEndpoint DB = TestInfrastructure.postgres().withFreshDatabase("plans_it");
    static final int QUEUED = 100_000;
    static final int KEYS = 1_000;
    static final int FINISHED = 150_000;
    static final Pattern FORBIDDEN = Pattern.compile("Seq Scan on (job|job_state_history|job_image)\\b");
    static final String WORKER = "w-plans";

    /** Statements captured while {@link #recording} is on, from every thread of the gateway. */
    static final ConcurrentLinkedQueue<Captured> CAPTURED = new ConcurrentLinkedQueue<>();

    static volatile boolean recording;
    private static volatile boolean loaded;

    @DynamicPropertySource
    static void infrastructure(DynamicPropertyRegistry registry) {
        TestInfrastructure.springProperties(RABBIT, DB).forEach((name, value) -> registry.add(name, () -> value));
    }

    @TestConfiguration
    static class Capture {
        /** Wraps the gateway's DataSource so that every statement it runs is seen (and bound parameters kept). */
        @Bean
        static BeanPostProcessor capturingDataSource() {
            return new BeanPostProcessor() {
                @Override
                public Object postProcessAfterInitialization(Object bean, String name) {
                    return bean instanceof DataSource ds ? capturing(ds) : bean;
                }
            };
        }
    }

    @LocalServerPort
    int port;

    @Autowired
    JdbcTemplate jdbc;

    @Autowired
    JobMoves moves;

    @Autowired
    ApiKeys keys;

    @Autowired
    QueueFeed feed;

    @Autowired
    QueueStats stats;

    @Autowired
    WireJson json;

    @Autowired
    ConnectionFactory connectionFactory;

    @Autowired
    DataSource dataSource;

    @Test
    void noStatementOfAHandOutOrARequestScansTheJobTables() throws Exception {
        assertThat(Proxy.isProxyClass(dataSource.getClass()))
                .as("the gateway's statements are captured")
                .isTrue();
        load();
        String key = "plans-" + UUID.randomUUID();
        UUID owner = keys.ensure("plans", key).keyId();
        JobMoves.Lease lease = takeLease();
        HttpClient http = HttpClient.newHttpClient();
        CAPTURED.clear();
        recording = true;
        try {
            // submit (and the per-key cap check), then get, list, the queue overview
            List<UUID> mine = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                HttpResponse<String> r = send(
                        http, key, "POST", "/api/v1/jobs", """
                        {"prompt": "plan %d", "width": 512, "height": 512, "steps": 20, "sampler": "Euler a",
                         "checkpoint": "ckpt_1"%s}""".formatted(i, i == 3 ? ", \"priority\": \"low\"" : ""));
                assertThat(r.statusCode()).as(r.body()).isEqualTo(202);
                mine.add(UUID.fromString(Api.JSON.readTree(r.body()).get("id").asString()));
            }
            assertThat(send(http, key, "GET", "/api/v1/jobs/" + mine.get(0), null)
                            .statusCode())
                    .isEqualTo(200);
            assertThat(send(http, key, "GET", "/api/v1/jobs?limit=20", null).statusCode())
                    .isEqualTo(200);
            assertThat(send(http, key, "GET", "/api/v1/jobs?status=QUEUED&limit=20", null)
                            .statusCode())
                    .isEqualTo(200);
            assertThat(send(http, key, "GET", "/api/v1/queue", null).statusCode())
                    .isEqualTo(200);

            // the scheduler's moves: assign, revoke one, revoke a worker's, fail after too many attempts, promote
            UUID first = mine.get(0);
            JobMoves.Assigned a = moves.assign(first, WORKER, 5, lease).orElseThrow();
            assertThat(moves.revokeAssignment(first, a.row().attempt(), WORKER, "plans", lease))
                    .isPresent();
            JobMoves.Assigned again = moves.assign(first, WORKER, 5, lease).orElseThrow();
            moves.assign(mine.get(1), WORKER, 5, lease).orElseThrow();
            assertThat(moves.revokeWorker(WORKER, JobMoves.Scope.NOT_STARTED, "plans", lease))
                    .hasSize(2);
            JobMoves.Assigned run = moves.assign(first, WORKER, 5, lease).orElseThrow();
            moves.failTooManyAttempts(mine.get(2), 0, lease);
            moves.promoteWaitingLowPriority(Duration.ofMillis(1), 500, lease);
            assertThat(again.row().attempt()).isGreaterThan(a.row().attempt());

            // the event merge through the broker: RUNNING, then SUCCEEDED with an image; then the image
            RabbitTemplate events = new RabbitTemplate(connectionFactory);
            publish(events, new JobStarted(first, run.row().attempt(), WORKER, 1, Instant.now(), Map.of()));
            await(() -> status(first).equals("RUNNING"), "the RUNNING event merged");
            moves.revokeWorker(WORKER, JobMoves.Scope.ALL, "plans", lease); // a running job given back
            JobMoves.Assigned last = moves.assign(first, WORKER, 5, lease).orElseThrow();
            publish(events, new JobStarted(first, last.row().attempt(), WORKER, 1, Instant.now(), Map.of()));
            publish(
                    events,
                    new JobSucceeded(
                            first,
                            last.row().attempt(),
                            WORKER,
                            2,
                            Instant.now(),
                            List.of(
                                    new GeneratedImage(
                                            0,
                                            1,
                                            "image/png",
                                            1,
                                            1,
                                            Base64.getDecoder()
                                                    .decode(
                                                            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="))),
                            Map.of()));
            await(() -> status(first).equals("SUCCEEDED"), "the SUCCEEDED event merged");
            assertThat(send(http, key, "GET", "/api/v1/jobs/" + first + "/images/0", null)
                            .statusCode())
                    .isEqualTo(200);

            // cancel a queued job
            assertThat(send(http, key, "DELETE", "/api/v1/jobs/" + mine.get(3), null)
                            .statusCode())
                    .isBetween(200, 299);

            // the index's full reload (startup, reconnect)
            feed.reload();

            // the periodic statements: the queue stats refresh, the stuck sweep, idempotency purge, outbox sweep
            long seen = CAPTURED.size();
            await(
                    () -> CAPTURED.stream().anyMatch(c -> c.sql().contains("percentile_cont"))
                            && CAPTURED.stream().anyMatch(c -> c.sql().contains("with stuck as"))
                            && CAPTURED.size() > seen,
                    () -> "the periodic statements; captured: "
                            + CAPTURED.stream()
                                    .map(c -> oneLine(c.sql())
                                            .substring(
                                                    0,
                                                    Math.min(
                                                            70, oneLine(c.sql()).length())))
                                    .distinct()
                                    .toList());
        } finally {
            recording = false;
        }
        assertThat(owner).isNotNull();

        Map<String, Captured> distinct = new LinkedHashMap<>();
        for (Captured c : CAPTURED) {
            distinct.putIfAbsent(c.sql(), c);
        }
        List<String> explained = new ArrayList<>();
        Map<String, String> scans = new TreeMap<>();
        try (Connection c = DB.connect()) {
            for (Captured s : distinct.values()) {
                if (!explainable(s.sql())) {
                    continue;
                }
                String plan = explain(c, s);
                explained.add(s.sql());
                if (s.sql().equals(QueueFeed.RELOAD_SQL)) {
                    // The reload reads every queued or assigned job once, at startup and after a lost notification
                    // connection: with 40% of this table queued, a sequential scan can be the cheaper plan and is
                    // legitimate here. It is checked to be possible through the partial indexes instead (below).
                    continue;
                }
                if (FORBIDDEN.matcher(plan).find()) {
                    scans.put(oneLine(s.sql()), plan);
                }
            }
            // which partial index serves the queued part (job_queued or job_owner_in_flight) is the planner's choice
            assertThat(reloadPlanWithoutSeqScans(c))
                    .as("the reload can be served by partial indexes")
                    .containsAnyOf("job_queued", "job_owner_in_flight")
                    .contains("job_assigned");
        }
        // the paths above really ran: every kind of statement is among those explained
        assertThat(explained).anyMatch(s -> s.contains("insert into job ("));
        assertThat(explained).anyMatch(s -> s.contains("update job set assigned_worker = "));
        assertThat(explained).anyMatch(s -> s.contains("assigned_worker = ?") && s.contains("for update"));
        assertThat(explained).anyMatch(s -> s.contains("priority = 2") && s.contains("skip locked"));
        assertThat(explained).anyMatch(s -> s.contains("insert into job_image"));
        assertThat(explained).anyMatch(s -> s.contains("percentile_cont"));
        assertThat(explained).anyMatch(s -> s.contains("order by j.ticket desc"));
        assertThat(explained).contains(QueueFeed.RELOAD_SQL);
        assertThat(scans)
                .as("statements that scan a job table sequentially (%d explained)", explained.size())
                .isEmpty();
    }

    @Test
    void theCheckFailsWhenAnIndexIsDropped() throws Exception {
        load();
        // the queue stats refresh reads each pool's recent successes through job_succeeded; without it, the table
        CAPTURED.clear();
        recording = true;
        try {
            stats.load();
        } finally {
            recording = false;
        }
        Captured refresh = CAPTURED.stream()
                .filter(c -> c.sql().contains("percentile_cont"))
                .findFirst()
                .orElseThrow();
        try (Connection c = DB.connect()) {
            assertThat(FORBIDDEN.matcher(explain(c, refresh)).find())
                    .as("with job_succeeded")
                    .isFalse();
            c.setAutoCommit(false);
            try (Statement s = c.createStatement()) {
                s.execute("drop index job_succeeded");
                assertThat(explain(c, refresh)).as("without job_succeeded").containsPattern(FORBIDDEN);
            } finally {
                c.rollback();
                c.setAutoCommit(true);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------- the table

    /**
     * 1,000 keys; 100,000 QUEUED jobs (4 pools, 5 checkpoints, 10% low priority, fair tags by key); 500 assigned and
     * 500 running ones; 150,000 finished (SUCCEEDED with an image, FAILED, CANCELLED) with two history rows each.
     */
    private synchronized void load() {
        if (loaded) {
            return;
        }
        jdbc.execute("""
                insert into api_key (id, name, key_hash, key_prefix)
                select gen_random_uuid(), 'load-' || k, sha256(convert_to('load-key-' || k, 'UTF8')), 'load-key'
                from generate_series(1, %d) k""".formatted(KEYS));
        jdbc.execute("""
                with keys as (select id, row_number() over (order by id) as k from api_key where name like 'load-%%')
                insert into job (id, owner_key_id, pool, spec, status, priority, requested_priority, fair_tag, cost,
                                 checkpoint, sampler, created_at, queued_at)
                select gen_random_uuid(), keys.id, 'p' || (i %% 4),
                       jsonb_build_object('prompt', 'load ' || i, 'width', 512, 'height', 512, 'steps', 20,
                                          'cfgScale', 7.0, 'sampler', 'Euler a', 'seed', i,
                                          'checkpoint', 'ckpt_' || (i %% 5), 'batchSize', 1),
                       'QUEUED', case when i %% 10 = 0 then 2 else 1 end, case when i %% 10 = 0 then 2 else 1 end,
                       i / %d, 1.0, 'ckpt_' || (i %% 5), 'Euler a', now() - interval '1 hour', now() - interval '1 hour'
                from generate_series(1, %d) i join keys on keys.k = 1 + i %% %d""".formatted(KEYS, QUEUED, KEYS));
        jdbc.execute("""
                with keys as (select id, row_number() over (order by id) as k from api_key where name like 'load-%%')
                insert into job (id, owner_key_id, pool, spec, status, priority, requested_priority, fair_tag, cost,
                                 checkpoint, sampler, attempt, assigned_worker, assigned_at, worker_id, started_at,
                                 last_event_at)
                select gen_random_uuid(), keys.id, 'p' || (i %% 4),
                       jsonb_build_object('prompt', 'held ' || i, 'width', 512, 'height', 512, 'steps', 20,
                                          'cfgScale', 7.0, 'sampler', 'Euler a', 'seed', i,
                                          'checkpoint', 'ckpt_' || (i %% 5), 'batchSize', 1),
                       case when i %% 2 = 0 then 'RUNNING' else 'QUEUED' end, 1, 1, 0, 1.0, 'ckpt_' || (i %% 5),
                       'Euler a', 1, 'w-load-' || (i / 2), now(), case when i %% 2 = 0 then 'w-load-' || (i / 2) end,
                       case when i %% 2 = 0 then now() end, case when i %% 2 = 0 then now() end
                from generate_series(1, 1000) i join keys on keys.k = 1 + i %% %d""".formatted(KEYS));
        jdbc.execute("""
                with keys as (select id, row_number() over (order by id) as k from api_key where name like 'load-%%'),
                done as (
                    insert into job (id, owner_key_id, pool, spec, status, priority, requested_priority, cost,
                                     checkpoint, sampler, attempt, worker_id, created_at, started_at, finished_at,
                                     error_code)
                    select gen_random_uuid(), keys.id, 'p' || (i %% 4),
                           jsonb_build_object('prompt', 'done ' || i, 'width', 512, 'height', 512, 'steps', 20,
                                              'cfgScale', 7.0, 'sampler', 'Euler a', 'seed', i,
                                              'checkpoint', 'ckpt_' || (i %% 5), 'batchSize', 1),
                           case when i %% 20 = 0 then 'FAILED' when i %% 20 = 1 then 'CANCELLED' else 'SUCCEEDED' end,
                           1, 1, 1.0, 'ckpt_' || (i %% 5), 'Euler a', 1, 'w-old',
                           now() - make_interval(secs => i), now() - make_interval(secs => i - 1),
                           now() - make_interval(secs => i - 5), case when i %% 20 = 0 then 'FORGE_ERROR' end
                    from generate_series(1, %d) i join keys on keys.k = 1 + i %% %d
                    returning id, status, created_at, finished_at
                ), hist as (
                    insert into job_state_history (job_id, from_status, to_status, attempt, reason, occurred_at)
                    select id, null, 'QUEUED', 0, 'submitted', created_at from done
                    union all
                    select id, 'RUNNING', status, 1, null, finished_at from done
                )
                insert into job_image (job_id, idx, mime_type, width, height, seed, etag, data)
                select id, 0, 'image/png', 1, 1, 1, md5(id::text), '\\x89504e47'::bytea from done
                where status = 'SUCCEEDED'""".formatted(FINISHED, KEYS));
        jdbc.execute("""
                insert into job_state_history (job_id, from_status, to_status, attempt, reason, occurred_at)
                select id, null, 'QUEUED', 0, 'submitted', created_at from job where status in ('QUEUED', 'RUNNING')""");
        jdbc.execute("analyze");
        loaded = true;
    }

    private JobMoves.Lease takeLease() {
        Map<String, Object> row = jdbc.queryForMap("""
                update scheduler_lease set holder = 'it-plans-test', epoch = epoch + 1,
                                           expires_at = now() + interval '1 hour'
                where id = 1 returning holder, epoch""");
        return new JobMoves.Lease((String) row.get("holder"), ((Number) row.get("epoch")).longValue());
    }

    // ------------------------------------------------------------------------------------------------ explain

    private static boolean explainable(String sql) {
        String s = sql.strip().toLowerCase(Locale.ROOT);
        return s.startsWith("select")
                || s.startsWith("with")
                || s.startsWith("insert")
                || s.startsWith("update")
                || s.startsWith("delete");
    }

    /** EXPLAIN of a captured statement, with its parameters bound the way the gateway bound them. */
    static String explain(Connection c, Captured s) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("explain " + s.sql())) {
            for (Bound b : s.params()) {
                try {
                    b.method().invoke(ps, b.args());
                } catch (IllegalAccessException | InvocationTargetException e) {
                    throw new SQLException("could not bind " + b.method().getName() + " for " + s.sql(), e);
                }
            }
            StringBuilder plan = new StringBuilder();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    plan.append(rs.getString(1)).append('\n');
                }
            }
            return plan.toString();
        }
    }

    /** The reload's plan when sequential scans are discouraged: it must be able to use the partial indexes. */
    private static String reloadPlanWithoutSeqScans(Connection c) throws SQLException {
        boolean auto = c.getAutoCommit();
        c.setAutoCommit(false);
        try (Statement s = c.createStatement()) {
            s.execute("set local enable_seqscan = off");
            StringBuilder plan = new StringBuilder();
            try (ResultSet rs = s.executeQuery("explain " + QueueFeed.RELOAD_SQL)) {
                while (rs.next()) {
                    plan.append(rs.getString(1)).append('\n');
                }
            }
            assertThat(FORBIDDEN.matcher(plan).find()).as(plan.toString()).isFalse();
            return plan.toString();
        } finally {
            c.rollback();
            c.setAutoCommit(auto);
        }
    }

    private static String oneLine(String sql) {
        return sql.replaceAll("\\s+", " ").strip();
    }

    // -------------------------------------------------------------------------------------------------- capture

    /** One bound parameter: the setter the gateway called and its arguments. */
    record Bound(Method method, Object[] args) {}

    /** A statement as run: its SQL (with ? placeholders) and its parameters in the order they were bound. */
    record Captured(String sql, List<Bound> params) {}

    static DataSource capturing(DataSource target) {
        return (DataSource) Proxy.newProxyInstance(
                QueryPlansIT.class.getClassLoader(), new Class<?>[] {DataSource.class}, (proxy, method, args) -> {
                    Object result = invoke(target, method, args);
                    return result instanceof Connection c
                            ? wrap(Connection.class, c, new ConnectionHandler(c))
                            : result;
                });
    }

    private static Object invoke(Object target, Method method, Object[] args) throws Throwable {
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    private static <T> T wrap(Class<T> type, T target, InvocationHandler handler) {
        return type.cast(Proxy.newProxyInstance(QueryPlansIT.class.getClassLoader(), new Class<?>[] {type}, handler));
    }

    private record ConnectionHandler(Connection target) implements InvocationHandler {
        @Override
        public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
            Object result = QueryPlansIT.invoke(target, method, args);
            if (method.getName().equals("prepareStatement") && result instanceof PreparedStatement ps) {
                return wrap(PreparedStatement.class, ps, new PreparedHandler(ps, (String) args[0]));
            }
            if (method.getName().equals("createStatement") && result instanceof Statement st) {
                return wrap(Statement.class, st, new StatementHandler(st));
            }
            return result;
        }
    }

    private static final class PreparedHandler implements InvocationHandler {
        private final PreparedStatement target;
        private final String sql;
        private final TreeMap<Integer, Bound> params = new TreeMap<>();

        PreparedHandler(PreparedStatement target, String sql) {
            this.target = target;
            this.sql = sql;
        }

        @Override
        public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
            String name = method.getName();
            if (name.startsWith("set") && args != null && args.length >= 2 && args[0] instanceof Integer i) {
                params.put(i, new Bound(method, args.clone()));
            } else if (name.equals("clearParameters")) {
                params.clear();
            } else if (recording
                    && (name.startsWith("execute") || name.equals("addBatch"))
                    && (args == null || args.length == 0)) {
                CAPTURED.add(new Captured(sql, List.copyOf(params.values())));
            }
            return QueryPlansIT.invoke(target, method, args);
        }
    }

    private record StatementHandler(Statement target) implements InvocationHandler {
        @Override
        public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
            if (recording
                    && method.getName().startsWith("execute")
                    && args != null
                    && args.length >= 1
                    && args[0] instanceof String sql) {
                CAPTURED.add(new Captured(sql, List.of()));
            }
            return QueryPlansIT.invoke(target, method, args);
        }
    }

    // --------------------------------------------------------------------------------------------------- helpers

    private void publish(RabbitTemplate template, JobEvent event) {
        template.send(
                Topology.EVENTS_EXCHANGE,
                event.routingKey(),
                ContractMessage.persistent(
                        json.toBytes(event), event.jobId() + "/" + event.attempt() + "/" + event.seq()));
    }

    private String status(UUID id) {
        return jdbc.queryForObject("select status from job where id = ?", String.class, id);
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        await(condition, () -> what);
    }

    private static void await(BooleanSupplier condition, java.util.function.Supplier<String> what)
            throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what.get());
            }
            Thread.sleep(50);
        }
    }

    private HttpResponse<String> send(HttpClient http, String key, String method, String path, String body)
            throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + key)
                .header("Content-Type", "application/json");
        b.method(
                method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** JSON for reading answers. */
    static final class Api {
        static final tools.jackson.databind.json.JsonMapper JSON =
                tools.jackson.databind.json.JsonMapper.builder().build();
    }
}
