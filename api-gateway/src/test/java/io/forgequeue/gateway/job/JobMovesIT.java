package io.forgequeue.gateway.job;

import static io.forgequeue.model.fixtures.JobSpecBuilder.aSpec;
import static org.assertj.core.api.Assertions.assertThat;

import io.forgequeue.gateway.system.WireJson;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.jdbc.datasource.DataSourceTransactionManager;
import org.springframework.jdbc.datasource.DriverManagerDataSource;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * The scheduler's batched hand-outs ({@link JobMoves#assignAll}) against PostgreSQL, on a fresh migrated database
 * without a broker or a Spring context: what a round decided is recorded in the order it was decided, whatever order
 * the database joins the decisions with the job rows in.
 */
class JobMovesIT {

    private static JdbcClient jdbc;
    private static JobMoves moves;
    private static UUID key;
    private static String spec;

    @BeforeAll
    static void database() {
        DriverManagerDataSource dataSource = JobRowsFixture.migratedDatabase("job_moves_it");
        jdbc = JdbcClient.create(dataSource);
        WireJson json = new WireJson();
        TransactionTemplate tx = new TransactionTemplate(new DataSourceTransactionManager(dataSource));
        moves = new JobMoves(jdbc, new JobRows(json), event -> {}, new FlushedCommits(jdbc, tx));
        spec = json.toText(aSpec().build());
        key = UUID.randomUUID();
        jdbc.sql("insert into api_key (id, name, key_hash) values (?, 'moves', ?)")
                .params(key, UUID.randomUUID().toString().getBytes())
                .update();
    }

    private static JobMoves.Lease lease() {
        Map<String, Object> row = jdbc.sql("""
                        update scheduler_lease set holder = 'moves-it', epoch = epoch + 1,
                                                   expires_at = now() + interval '1 hour'
                        where id = 1 returning holder, epoch""").query().singleRow();
        return new JobMoves.Lease((String) row.get("holder"), ((Number) row.get("epoch")).longValue());
    }

    private static List<UUID> queuedJobs(String pool, int count) {
        List<UUID> ids = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            UUID id = UuidV7.next();
            jdbc.sql("""
                            insert into job (id, owner_key_id, pool, spec, status, attempt, last_seq)
                            values (:id, :key, :pool, cast(:spec as jsonb), 'QUEUED', 0, 0)""")
                    .param("id", id)
                    .param("key", key)
                    .param("pool", pool)
                    .param("spec", spec)
                    .update();
            ids.add(id);
        }
        return ids;
    }

    @Test
    void aRoundsHandOutsAreRecordedAndReturnedInTheOrderTheyWereDecided() {
        String pool = "order-" + UUID.randomUUID();
        List<UUID> decided = queuedJobs(pool, 24);
        Collections.shuffle(decided, new Random(7)); // e.g. a high-priority job submitted last goes first
        List<JobMoves.Assignment> round = new ArrayList<>();
        for (int i = 0; i < decided.size(); i++) {
            round.add(new JobMoves.Assignment(decided.get(i), "gpu-" + (i % 3), null, Double.POSITIVE_INFINITY));
        }

        List<JobMoves.Assigned> committed = moves.assignAll(round, 3, lease());

        assertThat(committed.stream().map(a -> a.row().id()).toList()).isEqualTo(decided);
        assertThat(handOuts(pool))
                .as("the history's assigned rows, oldest first")
                .isEqualTo(decided);
    }

    private static List<UUID> handOuts(String pool) {
        return jdbc.sql("""
                        select h.job_id from job_state_history h join job j on j.id = h.job_id
                        where j.pool = ? and h.reason = 'assigned' order by h.id""").param(pool).query(UUID.class).list();
    }

    @Test
    void aJobThatIsNoLongerWaitingIsLeftOutAndTheOthersKeepTheirOrder() {
        String pool = "gone-" + UUID.randomUUID();
        List<UUID> jobs = queuedJobs(pool, 3);
        jdbc.sql("update job set status = 'CANCELLED', finished_at = now() where id = ?")
                .param(jobs.get(1))
                .update();
        List<JobMoves.Assignment> round = List.of(jobs.get(2), jobs.get(1), jobs.get(0)).stream()
                .map(id -> new JobMoves.Assignment(id, "gpu-0", null, Double.POSITIVE_INFINITY))
                .toList();

        List<JobMoves.Assigned> committed = moves.assignAll(round, 3, lease());

        assertThat(committed.stream().map(a -> a.row().id()).toList()).containsExactly(jobs.get(2), jobs.get(0));
        assertThat(handOuts(pool)).containsExactly(jobs.get(2), jobs.get(0));
        assertThat(committed).allSatisfy(a -> assertThat(a.message().attempt()).isEqualTo(1));
    }
}
