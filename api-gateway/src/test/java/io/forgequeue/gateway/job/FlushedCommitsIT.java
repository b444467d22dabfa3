package io.forgequeue.gateway.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.forgequeue.testsupport.PostgresEndpoint;
import io.forgequeue.testsupport.TestInfrastructure;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.jdbc.datasource.DataSourceTransactionManager;
import org.springframework.jdbc.datasource.SingleConnectionDataSource;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * {@link FlushedCommits} against PostgreSQL, on one connection (so that a setting left behind would show): the
 * notifying transaction itself commits without waiting for the WAL flush (which is what keeps PostgreSQL's
 * notification lock short), and the call returns only after its commit is flushed.
 */
class FlushedCommitsIT {

    private static SingleConnectionDataSource dataSource;
    private static JdbcClient jdbc;
    private static TransactionTemplate tx;
    private static FlushedCommits commits;

    @BeforeAll
    static void database() {
        PostgresEndpoint db = TestInfrastructure.postgres().withFreshDatabase("flushed_commits_it");
        dataSource = new SingleConnectionDataSource(db.jdbcUrl(), db.username(), db.password(), true);
        jdbc = JdbcClient.create(dataSource);
        tx = new TransactionTemplate(new DataSourceTransactionManager(dataSource));
        commits = new FlushedCommits(jdbc, tx);
        jdbc.sql("create table t (n int)").update();
    }

    @AfterAll
    static void close() {
        dataSource.destroy();
    }

    @Test
    void theTransactionCommitsWithoutWaitingForTheFlushAndTheConnectionKeepsSynchronousCommits() {
        String inside = commits.inTransaction(status -> {
            jdbc.sql("insert into t values (1)").update();
            return jdbc.sql("show synchronous_commit").query(String.class).single();
        });

        assertThat(inside).isEqualTo("off");
        assertThat(jdbc.sql("show synchronous_commit").query(String.class).single())
                .isEqualTo("on");
        assertThat(jdbc.sql("select count(*) from t where n = 1")
                        .query(Long.class)
                        .single())
                .isEqualTo(1);
    }

    /**
     * The WAL the transaction wrote is flushed when the call returns. (Another session's synchronous commit may
     * flush it first, so on a busy server this cannot catch a missing flush every time; it never fails wrongly.)
     */
    @Test
    void itReturnsOnlyOnceTheTransactionIsFlushed() {
        String written = commits.inTransaction(status -> {
            jdbc.sql("insert into t values (2)").update();
            return jdbc.sql("select pg_current_wal_insert_lsn()::text")
                    .query(String.class)
                    .single();
        });

        assertThat(jdbc.sql("select pg_current_wal_flush_lsn() >= cast(:lsn as pg_lsn)")
                        .param("lsn", written)
                        .query(Boolean.class)
                        .single())
                .isTrue();
    }

    @Test
    void aRolledBackTransactionLeavesNothing() {
        commits.inTransaction(status -> {
            jdbc.sql("insert into t values (3)").update();
            status.setRollbackOnly();
            return null;
        });

        assertThat(jdbc.sql("select count(*) from t where n = 3")
                        .query(Long.class)
                        .single())
                .isZero();
    }

    /**
     * A submission's commit: synchronous, so that nothing durable happens after an error the client is answered with
     * (a flushed commit can be committed and then fail its flush when the database stops).
     */
    @Test
    void aSynchronousTransactionCommitsWithTheFlushAndLeavesNothingWhenRolledBack() {
        String inside = commits.synchronously(status -> {
            jdbc.sql("insert into t values (4)").update();
            return jdbc.sql("show synchronous_commit").query(String.class).single();
        });
        commits.synchronously(status -> {
            jdbc.sql("insert into t values (5)").update();
            status.setRollbackOnly();
            return null;
        });

        assertThat(inside).isEqualTo("on");
        assertThat(jdbc.sql("select n from t where n in (4, 5)")
                        .query(Integer.class)
                        .list())
                .containsExactly(4);
        assertThatThrownBy(() -> tx.execute(status -> commits.synchronously(s -> 1)))
                .isInstanceOf(IllegalStateException.class);
    }

    @Test
    void itRefusesToRunInsideATransactionWhoseCommitItCouldNotFlush() {
        assertThatThrownBy(() -> tx.execute(status -> commits.inTransaction(s -> 1)))
                .isInstanceOf(IllegalStateException.class);
    }
}
