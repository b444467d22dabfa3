package io.forgequeue.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.forgequeue.gateway.apikey.ApiKeys;
import io.forgequeue.gateway.fleet.WorkerDirectory;
import io.forgequeue.gateway.queue.QueueIndex;
import io.forgequeue.testsupport.PostgresEndpoint;
import io.forgequeue.testsupport.RabbitEndpoint;
import io.forgequeue.testsupport.TestInfrastructure;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalManagementPort;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * One gateway context (real RabbitMQ virtual host, real PostgreSQL database) shared by every integration test
 * class that extends this: Spring caches it, so it starts once per test JVM. Tests isolate themselves by using
 * their own API keys and their own pool names (queue positions, workers and hand-outs are per pool). Jobs are
 * handed out by this gateway's scheduler (it is the only gateway on its database, so it leads) to the
 * {@link TestWorker}s a test starts in its pool; they are stopped after each test.
 */
@SpringBootTest(
        classes = GatewayApplication.class,
        webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {
            "gateway.instance-id=it-shared",
            "gateway.quotas.max-queued=100",
            "gateway.jobs.samplers=Euler a,DPM++ 2M",
            "gateway.websocket.auth-timeout=1s",
            "gateway.websocket.position-debounce=50ms",
            "gateway.outbox.sweep-interval=200ms",
            "gateway.queue.refresh-interval=200ms",
            "gateway.web.max-body-bytes=65536",
            Gateways.PRESENCE_TIMEOUT,
            Gateways.SCHEDULER_TICK,
            Gateways.LOST_MESSAGE_GRACE,
            Gateways.LOW_PRIORITY_MAX_WAIT
        })
abstract class IntegrationTestBase {

    static final RabbitEndpoint RABBIT = TestInfrastructure.rabbit().withFreshVirtualHost("gateway-it");
    static final PostgresEndpoint DB = TestInfrastructure.postgres().withFreshDatabase("gateway_it");
    static final Broker BROKER = new Broker(RABBIT);

    @DynamicPropertySource
    static void infrastructure(DynamicPropertyRegistry registry) {
        TestInfrastructure.springProperties(RABBIT, DB).forEach((name, value) -> registry.add(name, () -> value));
    }

    @LocalServerPort
    int port;

    @LocalManagementPort
    int managementPort;

    @Autowired
    ApiKeys apiKeys;

    @Autowired
    JdbcTemplate jdbc;

    @Autowired
    MeterRegistry meters;

    @Autowired
    WorkerDirectory fleet;

    @Autowired
    QueueIndex queueIndex;

    private final List<TestWorker> workers = new ArrayList<>();

    /** The test's workers leave (GONE): whatever they still hold goes back to their pool, which nobody serves. */
    @AfterEach
    void stopWorkers() {
        synchronized (workers) {
            workers.forEach(TestWorker::close);
            workers.clear();
        }
    }

    /** No test may make the merge fail: an event dropped for an error would be lost. */
    @AfterEach
    void noEventWasDroppedForAnError() {
        assertThat(counter("gpu.gateway.events.rejected", "reason", "error")).isZero();
    }

    Api api() {
        return new Api(port);
    }

    /** The actuator's own port: health, probes and Prometheus. */
    Api management() {
        return new Api(managementPort);
    }

    /** A new API key (stored hashed) with the default quota, unique to the calling test. */
    String newKey() {
        String raw = "test-" + UUID.randomUUID();
        apiKeys.ensure("key-" + raw.substring(5, 13), raw);
        return raw;
    }

    /** A new API key with quotas of its own. */
    String newKey(TestKeys.Limits limits) {
        return TestKeys.create(jdbc, limits);
    }

    /** A pool name unique to the calling test, so queue positions are not shared with other tests. */
    static String newPool() {
        return "p" + UUID.randomUUID().toString().substring(0, 8);
    }

    /** A worker of {@code pool} to configure and start; stopped after the test. */
    TestWorker.Builder aWorker(String pool) {
        return aWorker(RABBIT, pool);
    }

    /** A worker of {@code pool} connecting as {@code user}'s broker user; stopped after the test. */
    TestWorker.Builder aWorker(RabbitEndpoint user, String pool) {
        return TestWorker.in(user, pool).onStart(w -> {
            synchronized (workers) {
                workers.add(w);
            }
        });
    }

    /** A started worker of {@code pool} (random id, no Forge offer); stopped after the test. */
    TestWorker worker(String pool) {
        return aWorker(pool).start();
    }

    /** Waits until this gateway's scheduler counts {@code count} available workers in {@code pool}. */
    void awaitAvailableWorkers(String pool, int count) {
        await().atMost(Duration.ofSeconds(10)).until(() -> fleet.available(pool).size() == count);
    }

    /** Waits until this gateway's queue index holds {@code count} queued jobs of {@code pool} (waiting or assigned). */
    void awaitQueued(String pool, int count) {
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            QueueIndex.PoolCounts c = queueIndex.counts().get(pool);
            return (c == null ? 0 : c.queued()) == count;
        });
    }

    double counter(String name, String tag, String value) {
        var counter = tag == null
                ? meters.find(name).counter()
                : meters.find(name).tag(tag, value).counter();
        return counter == null ? 0 : counter.count();
    }

    /** Status, attempt and assigned worker of a job, as stored. */
    Map<String, Object> assignment(UUID id) {
        return jdbc.queryForMap("select status, attempt, assigned_worker, worker_id from job where id = ?", id);
    }

    /** The worker a job is assigned to now, or null. */
    String assignedWorker(UUID id) {
        return jdbc.queryForObject("select assigned_worker from job where id = ?", String.class, id);
    }

    /** The jobs of {@code pool} in the order the scheduler handed them out (one entry per hand-out). */
    List<UUID> handOuts(String pool) {
        return jdbc.queryForList("""
                select h.job_id from job_state_history h join job j on j.id = h.job_id
                where j.pool = ? and h.reason = 'assigned' order by h.id""", UUID.class, pool);
    }

    /** The history of a job as "from>to#attempt@worker: reason", oldest first. */
    List<String> history(UUID id) {
        return jdbc.queryForList("""
                select coalesce(from_status, '') || '>' || to_status || '#' || attempt || '@'
                       || coalesce(worker_id, '') || ': ' || coalesce(reason, '')
                from job_state_history where job_id = ? order by id""", String.class, id);
    }
}
