package io.forgequeue.gateway.event;

import static io.forgequeue.model.fixtures.JobSpecBuilder.aSpec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

import io.forgequeue.gateway.apikey.KeyNames;
import io.forgequeue.gateway.job.JobRowsFixture;
import io.forgequeue.gateway.queue.QueueStats;
import io.forgequeue.gateway.quota.Priority;
import io.forgequeue.gateway.quota.QuotaProperties;
import io.forgequeue.gateway.system.GatewayMetrics;
import io.forgequeue.gateway.system.KeyMetrics;
import io.forgequeue.gateway.system.WireJson;
import io.forgequeue.model.ErrorCode;
import io.forgequeue.model.GeneratedImage;
import io.forgequeue.model.JobCancelled;
import io.forgequeue.model.JobEvent;
import io.forgequeue.model.JobFailed;
import io.forgequeue.model.JobRequeued;
import io.forgequeue.model.JobStarted;
import io.forgequeue.model.JobStatus;
import io.forgequeue.model.JobSucceeded;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Types;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.jdbc.datasource.DataSourceTransactionManager;
import org.springframework.jdbc.datasource.DriverManagerDataSource;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * The merge against PostgreSQL applies exactly the moves of {@link JobStatus}'s transition table: an event of the
 * job's current assignment moves the job when the table allows the move (or the job stays in a non-terminal status:
 * a progress or a heartbeat), and changes nothing otherwise. Runs the gateway's merge ({@link EventMerger}) on a fresh
 * migrated database, without a broker or a Spring context.
 */
class MergeTransitionsIT {

    private static final String WORKER = "gpu-merge";
    private static final byte[] PNG = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    private static JdbcClient jdbc;
    private static String spec;
    private static EventMerger merger;
    private static UUID key;

    @BeforeAll
    static void migratedDatabase() {
        DriverManagerDataSource dataSource = JobRowsFixture.migratedDatabase("merge_it");
        jdbc = JdbcClient.create(dataSource);
        WireJson json = new WireJson();
        spec = json.toText(aSpec().build());
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        KeyNames keyNames = mock(KeyNames.class);
        when(keyNames.nameOf(any())).thenReturn("merge-key");
        QueueStats stats = mock(QueueStats.class);
        when(stats.rateTable()).thenReturn("{}");
        merger = new EventMerger(
                JobRowsFixture.eventMoves(
                        jdbc, json, new TransactionTemplate(new DataSourceTransactionManager(dataSource))),
                new GatewayMetrics(registry),
                new KeyMetrics(registry),
                keyNames,
                event -> {},
                new QuotaProperties(50, 0, 1.0, Priority.NORMAL),
                stats);
        key = UUID.randomUUID();
        jdbc.sql("insert into api_key (id, name, key_hash) values (?, 'merge', ?)")
                .params(key, UUID.randomUUID().toString().getBytes())
                .update();
    }

    /**
     * A job in {@code status} whose current assignment is attempt 1 on {@link #WORKER}, one event applied: handed
     * out and not started (QUEUED), running, or finished by that worker.
     */
    private static UUID jobIn(JobStatus status) {
        UUID id = UUID.randomUUID();
        boolean finished = status.isTerminal();
        jdbc.sql("""
                insert into job (id, owner_key_id, pool, spec, status, attempt, last_seq, worker_id, assigned_worker,
                                 started_at, finished_at)
                values (:id, :key, 'default', cast(:spec as jsonb), :status, 1, 1, :worker, :assigned,
                        case when :started then now() end, case when :finished then now() end)""")
                .param("id", id)
                .param("key", key)
                .param("spec", spec)
                .param("status", status.name())
                .param("worker", status == JobStatus.QUEUED ? null : WORKER, Types.VARCHAR)
                .param("assigned", finished ? null : WORKER, Types.VARCHAR)
                .param("started", status != JobStatus.QUEUED)
                .param("finished", finished)
                .update();
        return id;
    }

    /** The next event (seq 2) of the job's current assignment that implies {@code target}. */
    private static JobEvent eventTo(UUID id, JobStatus target) {
        Instant at = Instant.now();
        return switch (target) {
            case QUEUED -> new JobRequeued(id, 1, WORKER, 2, at, "worker shutting down");
            case RUNNING -> new JobStarted(id, 1, WORKER, 2, at, Map.of());
            case SUCCEEDED ->
                new JobSucceeded(
                        id, 1, WORKER, 2, at, List.of(new GeneratedImage(0, 7, "image/png", 64, 64, PNG)), Map.of());
            case FAILED ->
                new JobFailed(id, 1, WORKER, 2, at, ErrorCode.FORGE_OUT_OF_MEMORY, "out of memory", true, Map.of());
            case CANCELLED -> new JobCancelled(id, 1, WORKER, 2, at, "interrupted while running");
        };
    }

    private static Map<String, Object> row(UUID id) {
        return jdbc.sql("""
                select status, version, last_seq,
                       (select count(*) from job_state_history h where h.job_id = job.id) as history,
                       (select count(*) from job_image i where i.job_id = job.id) as images
                from job where id = ?""").param(id).query().singleRow();
    }

    @Test
    void movesAJobExactlyWhenTheTransitionTableAllowsItAndChangesNothingOtherwise() {
        SoftAssertions softly = new SoftAssertions();
        int applied = 0;
        int refused = 0;
        for (JobStatus from : JobStatus.values()) {
            for (JobStatus to : JobStatus.values()) {
                UUID id = jobIn(from);
                Map<String, Object> before = row(id);
                boolean allowed = from.canMoveTo(to) || (from == to && !from.isTerminal());

                EventMerger.Result result = merger.merge(eventTo(id, to));

                Map<String, Object> after = row(id);
                String move = from + " -> " + to;
                if (allowed) {
                    applied++;
                    softly.assertThat(result.outcome()).as(move).isEqualTo(EventMerger.Outcome.APPLIED);
                    softly.assertThat(after.get("status")).as(move).isEqualTo(to.name());
                    softly.assertThat(result.row()).as(move + " (returned row)").isNotNull();
                    if (result.row() != null) {
                        softly.assertThat(result.row().status())
                                .as(move + " (returned row)")
                                .isEqualTo(to);
                        softly.assertThat(result.row().ownerKeyId())
                                .as(move + " (returned row)")
                                .isEqualTo(key);
                    }
                    softly.assertThat(((Number) after.get("last_seq")).longValue())
                            .as(move)
                            .isEqualTo(2);
                    softly.assertThat(((Number) after.get("history")).longValue())
                            .as(move + " (history rows)")
                            .isEqualTo(from == to ? 0 : 1);
                    softly.assertThat(((Number) after.get("images")).longValue())
                            .as(move + " (image rows)")
                            .isEqualTo(to == JobStatus.SUCCEEDED ? 1 : 0);
                } else {
                    refused++;
                    softly.assertThat(result.outcome())
                            .as(move)
                            .isIn(EventMerger.Outcome.TERMINAL, EventMerger.Outcome.ILLEGAL_TRANSITION);
                    softly.assertThat(result.row()).as(move).isNull();
                    softly.assertThat(after).as(move + " (row unchanged)").isEqualTo(before);
                }
            }
        }
        softly.assertAll();
        assertThat(applied).as("moves the table allows").isPositive();
        assertThat(refused).as("moves the table forbids").isPositive();
    }

    @Test
    void aFinishedJobStaysFinishedWhateverItsWorkerSendsAfterwards() {
        for (JobStatus terminal : List.of(JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)) {
            UUID id = jobIn(terminal);
            Map<String, Object> before = row(id);

            for (JobStatus to : JobStatus.values()) {
                assertThat(merger.merge(eventTo(id, to)).outcome())
                        .as(terminal + " -> " + to)
                        .isEqualTo(EventMerger.Outcome.TERMINAL);
            }

            assertThat(row(id)).as(terminal.name()).isEqualTo(before);
        }
    }
}
