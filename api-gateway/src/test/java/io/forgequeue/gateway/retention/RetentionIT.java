package io.forgequeue.gateway.retention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.forgequeue.gateway.GatewayApplication;
import io.forgequeue.gateway.job.JobErasure;
import io.forgequeue.gateway.job.JobQueries;
import io.forgequeue.gateway.job.JobView;
import io.forgequeue.gateway.system.RetentionMetrics;
import io.forgequeue.model.ErrorCode;
import io.forgequeue.testsupport.PostgresEndpoint;
import io.forgequeue.testsupport.RabbitEndpoint;
import io.forgequeue.testsupport.TestInfrastructure;
import io.micrometer.core.instrument.MeterRegistry;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * Issue 19, retention: the sweep erases the prompts and images of exactly the jobs that finished more than
 * {@code gateway.retention.after} ago (30 days, the default), in bounded batches, leaves every other job as it was,
 * never erases a job twice when several gateways sweep at once, skips (never waits for) rows another transaction holds,
 * does nothing when retention is off, and counts what it erased and what the database holds. Retention needs only
 * finished rows, so the jobs are written with SQL as the merge would have left them (with finish times in the past,
 * which no worker could produce). Self-contained: its own gateway context (sweeps on a timer of one hour, so only the
 * test runs them), virtual host and database.
 */
@SpringBootTest(
        classes = GatewayApplication.class,
        webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {
            "gateway.instance-id=it-retention",
            "gateway.retention.interval=1h",
            "gateway.retention.stats-interval=1h",
            "gateway.retention.batch-size=3",
            "gateway.stuck-sweep.interval=1h"
        })
class RetentionIT {

    static final RabbitEndpoint RABBIT = TestInfrastructure.rabbit().withFreshVirtualHost("retention-it");
    static final PostgresEndpoint DB = TestInfrastructure.postgres().withFreshDatabase("retention_it");
    static final String POOL = "retained";

    @DynamicPropertySource
    static void infrastructure(DynamicPropertyRegistry registry) {
        TestInfrastructure.springProperties(RABBIT, DB).forEach((name, value) -> registry.add(name, () -> value));
    }

    @Autowired
    RetentionSweep sweep;

    @Autowired
    JobErasure erasure;

    @Autowired
    RetentionProperties properties;

    @Autowired
    JobQueries queries;

    @Autowired
    JdbcTemplate jdbc;

    @Autowired
    DataSource dataSource;

    @Autowired
    RetentionMetrics retentionMetrics;

    @Autowired
    MeterRegistry meters;

    @Test
    void erasesExactlyTheJobsThatFinishedMoreThanThirtyDaysAgoAndKeepsEveryOtherJobAsItWas() {
        UUID owner = newOwner();
        UUID succeeded = finished(owner, "SUCCEEDED", "31 days", 2);
        UUID failed = finished(owner, "FAILED", "40 days", 0);
        UUID cancelled = finished(owner, "CANCELLED", "30 days 1 hour", 0);
        UUID recent = finished(owner, "SUCCEEDED", "29 days 23 hours", 2);
        UUID running = unfinished(owner, "RUNNING");
        UUID queued = unfinished(owner, "QUEUED");
        UUID erasedByOwner = finished(owner, "SUCCEEDED", "50 days", 0);
        jdbc.update(
                "update job set spec = spec || '{\"prompt\": \"\"}', data_erased_at = now() - interval '49 days', "
                        + "data_erased_by = 'owner' where id = ?",
                erasedByOwner);
        Map<UUID, String> before = snapshots(List.of(recent, running, queued, erasedByOwner));
        long erasedBytes = imageBytes(succeeded);
        double jobs = erased("jobs");
        double images = erased("images");
        double bytes = erased("bytes");

        long swept = sweep.sweep();

        assertThat(swept).isEqualTo(3);
        for (UUID id : List.of(succeeded, failed, cancelled)) {
            assertErased(id);
        }
        assertThat(snapshots(List.of(recent, running, queued, erasedByOwner))).isEqualTo(before);
        assertThat(imageCount(recent)).isEqualTo(2);
        assertThat(erased("jobs") - jobs).isEqualTo(3);
        assertThat(erased("images") - images).isEqualTo(2);
        assertThat(erased("bytes") - bytes).isEqualTo(erasedBytes).isPositive();
        JobView failedView = queries.find(owner, failed).orElseThrow();
        assertThat(failedView.dataErased().by()).isEqualTo("retention");
        assertThat(failedView.spec().prompt()).isEmpty();
        assertThat(failedView.error().code()).isEqualTo("FORGE_REJECTED");
        assertThat(failedView.error().message()).isEqualTo(ErrorCode.FORGE_REJECTED.defaultMessage());
        assertThat(failedView.metadata()).containsEntry("seed", 42).doesNotContainKey("violations");
        JobView succeededView = queries.find(owner, succeeded).orElseThrow();
        assertThat(succeededView.status().name()).isEqualTo("SUCCEEDED");
        assertThat(succeededView.images()).isEmpty();
        assertThat(queries.find(owner, recent).orElseThrow().spec().prompt()).isEqualTo("secret prompt of " + recent);
        assertThat(sweep.sweep()).as("nothing left to erase").isZero();
    }

    @Test
    void erasesABacklogOldestFirstInBoundedBatchesAndLeavesWhatIsLeftForTheNextSweep() {
        UUID owner = newOwner();
        List<UUID> due = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            due.add(finished(owner, "SUCCEEDED", (31 + i) + " days", 1)); // the last one is the oldest
        }
        RetentionSweep oneBatch = new RetentionSweep(
                erasure,
                new RetentionProperties(properties.after(), Duration.ofHours(1), 3, 1, Duration.ofHours(1)),
                retentionMetrics,
                new io.micrometer.core.instrument.simple.SimpleMeterRegistry());

        long first = oneBatch.sweep();

        assertThat(first).isEqualTo(3);
        assertThat(erasedByRetention(due)).containsExactlyInAnyOrderElementsOf(due.subList(5, 8));
        assertThat(sweep.sweep()).as("batches of 3 until one is not full").isEqualTo(5);
        assertThat(erasedByRetention(due)).containsExactlyInAnyOrderElementsOf(due);
    }

    @Test
    void gatewaysSweepingAtOnceEraseEveryJobExactlyOnce() throws Exception {
        UUID owner = newOwner();
        List<UUID> due = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            due.add(finished(owner, "SUCCEEDED", "45 days", 1));
        }
        double jobs = erased("jobs");
        ExecutorService gateways = Executors.newFixedThreadPool(3);
        Callable<Long> oneGateway = () -> {
            RetentionSweep other = new RetentionSweep(
                    erasure,
                    new RetentionProperties(properties.after(), Duration.ofHours(1), 2, 1000, Duration.ofHours(1)),
                    retentionMetrics,
                    new io.micrometer.core.instrument.simple.SimpleMeterRegistry());
            return other.sweep();
        };

        List<Future<Long>> sweeps =
                gateways.invokeAll(List.of(oneGateway, oneGateway, oneGateway), 60, TimeUnit.SECONDS);
        gateways.shutdown();

        long total = 0;
        for (Future<Long> f : sweeps) {
            total += f.get();
        }
        assertThat(total).isEqualTo(40);
        assertThat(erased("jobs") - jobs).isEqualTo(40);
        assertThat(erasedByRetention(due)).hasSize(40);
        assertThat(jdbc.queryForObject(
                        "select count(*) from job_image where job_id = any(?::uuid[])", Long.class, array(due)))
                .isZero();
    }

    @Test
    void skipsJobsAnotherTransactionHoldsWithoutWaitingAndErasesThemLater() throws Exception {
        UUID owner = newOwner();
        UUID locked = finished(owner, "SUCCEEDED", "60 days", 1);
        UUID free = finished(owner, "SUCCEEDED", "59 days", 1);

        try (Connection other = dataSource.getConnection()) {
            other.setAutoCommit(false);
            try (PreparedStatement lock = other.prepareStatement("select id from job where id = ? for update")) {
                lock.setObject(1, locked);
                lock.executeQuery().close();
            }

            long swept = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> sweep.sweep());

            assertThat(swept).isEqualTo(1);
            assertThat(erasedByRetention(List.of(locked, free))).containsExactly(free);
            other.rollback();
        }
        assertThat(sweep.sweep()).isEqualTo(1);
        assertThat(erasedByRetention(List.of(locked, free))).containsExactlyInAnyOrder(locked, free);
    }

    @Test
    void keepsEveryJobsDataWhenRetentionIsOff() {
        UUID owner = newOwner();
        UUID old = finished(owner, "SUCCEEDED", "400 days", 1);
        RetentionSweep off = new RetentionSweep(
                erasure,
                new RetentionProperties(Duration.ZERO, Duration.ofHours(1), 3, 10, Duration.ofHours(1)),
                retentionMetrics,
                new io.micrometer.core.instrument.simple.SimpleMeterRegistry());

        assertThat(off.sweep()).isZero();
        assertThat(off.count().due()).isZero();

        assertThat(erasedByRetention(List.of(old))).isEmpty();
        assertThat(imageCount(old)).isEqualTo(1);
        sweep.sweep(); // leaves nothing due behind for the other tests
    }

    @Test
    void countsTheJobsImagesAndBytesStoredAndTheJobsDue() {
        sweep.sweep();
        JobErasure.Stored start = sweep.count();
        UUID owner = newOwner();
        UUID due = finished(owner, "SUCCEEDED", "35 days", 2);
        UUID kept = finished(owner, "SUCCEEDED", "1 day", 3);
        unfinished(owner, "RUNNING");
        long dueBytes = imageBytes(due);
        long keptBytes = imageBytes(kept);

        JobErasure.Stored seeded = sweep.count();
        double dueGauge = gauge("gpu.gateway.retention.due.jobs");
        sweep.sweep();
        JobErasure.Stored swept = sweep.count();

        assertThat(seeded.jobs() - start.jobs()).isEqualTo(2);
        assertThat(seeded.images() - start.images()).isEqualTo(5);
        assertThat(seeded.bytes() - start.bytes()).isEqualTo(dueBytes + keptBytes);
        assertThat(seeded.due() - start.due()).isEqualTo(1);
        assertThat(dueGauge).isEqualTo(seeded.due());
        assertThat(swept.jobs() - start.jobs()).isEqualTo(1);
        assertThat(swept.images() - start.images()).isEqualTo(3);
        assertThat(swept.bytes() - start.bytes()).isEqualTo(keptBytes);
        assertThat(swept.due()).isZero();
        assertThat(gauge("gpu.gateway.retention.stored.images")).isEqualTo(swept.images());
        assertThat(gauge("gpu.gateway.retention.stored.bytes")).isEqualTo(swept.bytes());
        assertThat(gauge("gpu.gateway.retention.stored.jobs")).isEqualTo(swept.jobs());
    }

    // --- fixtures: rows as the merge leaves them ---

    private UUID newOwner() {
        UUID id = UUID.randomUUID();
        jdbc.update(
                "insert into api_key (id, name, key_hash) values (?, ?, ?)",
                id,
                "retention-" + id,
                id.toString().getBytes());
        return id;
    }

    /** A job that ended {@code ago} (a PostgreSQL interval) with {@code images} result images. */
    private UUID finished(UUID owner, String status, String ago, int images) {
        UUID id = UUID.randomUUID();
        jdbc.update(
                """
                        insert into job (id, owner_key_id, pool, spec, status, progress, attempt, last_seq, worker_id,
                                         error_code, error_message, metadata, images, created_at, started_at,
                                         finished_at, queued_at)
                        values (?, ?, ?, cast(? as jsonb), ?, 100, 1, 3, 'w-1', ?, ?, cast(? as jsonb),
                                cast(? as jsonb), now() - cast(? as interval) - interval '1 minute',
                                now() - cast(? as interval) - interval '30 seconds', now() - cast(? as interval),
                                now() - cast(? as interval) - interval '1 minute')""",
                id,
                owner,
                POOL,
                spec(id),
                status,
                status.equals("FAILED") ? "FORGE_REJECTED" : null,
                status.equals("FAILED")
                        ? "The image server rejected the job's settings: 'secret prompt of " + id + "'"
                        : null,
                """
                        {"seed": 42, "sdModelName": "sim", "forgeMessage": "prompt 'secret prompt of %s'",
                         "violations": [{"field": "prompt", "message": "secret"}]}""".formatted(id),
                imagesJson(images),
                ago,
                ago,
                ago,
                ago);
        jdbc.update(
                "insert into job_state_history (job_id, from_status, to_status, attempt, worker_id, reason, "
                        + "occurred_at) values (?, 'RUNNING', ?, 1, 'w-1', 'done', now() - cast(? as interval))",
                id,
                status,
                ago);
        for (int i = 0; i < images; i++) {
            jdbc.update(
                    "insert into job_image (job_id, idx, mime_type, width, height, seed, etag, data) "
                            + "values (?, ?, 'image/png', 512, 512, ?, ?, ?)",
                    id,
                    i,
                    42 + i,
                    "e" + i,
                    ("PNG parameters: secret prompt of " + id + " #" + i)
                            .repeat(10 + i)
                            .getBytes());
        }
        return id;
    }

    private UUID unfinished(UUID owner, String status) {
        UUID id = UUID.randomUUID();
        jdbc.update("""
                        insert into job (id, owner_key_id, pool, spec, status, created_at, started_at, queued_at)
                        values (?, ?, ?, cast(? as jsonb), ?, now() - interval '60 days',
                                case when ? = 'RUNNING' then now() - interval '60 days' end,
                                now() - interval '60 days')""", id, owner, POOL + "-" + status.toLowerCase(), spec(id), status, status);
        return id;
    }

    private static String spec(UUID id) {
        return """
                {"prompt": "secret prompt of %s", "negativePrompt": "secret negative", "width": 512, "height": 512,
                 "steps": 20, "cfgScale": 7.0, "seed": 42, "batchSize": 1}""".formatted(id);
    }

    private static String imagesJson(int images) {
        List<String> infos = new ArrayList<>();
        for (int i = 0; i < images; i++) {
            infos.add("{\"index\": %d, \"mimeType\": \"image/png\", \"width\": 512, \"height\": 512, \"seed\": %d, "
                            .formatted(i, 42 + i)
                    + "\"etag\": \"e" + i + "\", \"bytes\": 100}");
        }
        return "[" + String.join(", ", infos) + "]";
    }

    // --- reading the outcome ---

    private void assertErased(UUID id) {
        Map<String, Object> row = jdbc.queryForMap(
                "select spec::text as spec, images::text as images, "
                        + "metadata::text as metadata, error_message, data_erased_at, data_erased_by, status, "
                        + "(select count(*) from job_image i where i.job_id = job.id) as image_rows, "
                        + "(select count(*) from job_state_history h where h.job_id = job.id) as history "
                        + "from job where id = ?",
                id);
        assertThat((String) row.get("spec")).doesNotContain("secret").contains("\"width\": 512");
        assertThat(row.get("images")).isEqualTo("[]");
        assertThat((String) row.get("metadata"))
                .doesNotContain("secret")
                .doesNotContain("forgeMessage")
                .doesNotContain("violations")
                .contains("\"seed\": 42");
        assertThat(row.get("error_message")).isNull();
        assertThat(row.get("data_erased_at")).isNotNull();
        assertThat(row.get("data_erased_by")).isEqualTo("retention");
        assertThat(((Number) row.get("image_rows")).longValue()).isZero();
        assertThat(((Number) row.get("history")).longValue())
                .as("the history stays")
                .isEqualTo(1);
    }

    /** Everything of a job row as text, to compare before and after. */
    private Map<UUID, String> snapshots(List<UUID> ids) {
        Map<UUID, String> out = new java.util.LinkedHashMap<>();
        for (UUID id : ids) {
            out.put(
                    id,
                    jdbc.queryForObject(
                            "select row_to_json(job)::text || (select coalesce(string_agg("
                                    + "md5(data), ',' order by idx), '') from job_image where job_id = job.id) from job where id = ?",
                            String.class,
                            id));
        }
        return out;
    }

    private List<UUID> erasedByRetention(List<UUID> ids) {
        return jdbc.queryForList(
                "select id from job where id = any(?::uuid[]) and data_erased_by = 'retention'",
                UUID.class,
                array(ids));
    }

    private static String array(List<UUID> ids) {
        return ids.stream().map(UUID::toString).collect(java.util.stream.Collectors.joining(",", "{", "}"));
    }

    private long imageCount(UUID id) {
        return jdbc.queryForObject("select count(*) from job_image where job_id = ?", Long.class, id);
    }

    private long imageBytes(UUID id) {
        return jdbc.queryForObject(
                "select coalesce(sum(octet_length(data)), 0) from job_image where job_id = ?", Long.class, id);
    }

    private double erased(String what) {
        return meters.get("gpu.gateway.retention.erased." + what)
                .tag("trigger", "retention")
                .counter()
                .count();
    }

    private double gauge(String name) {
        return meters.get(name).gauge().value();
    }
}
