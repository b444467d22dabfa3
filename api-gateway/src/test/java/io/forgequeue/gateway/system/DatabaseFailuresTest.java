package io.forgequeue.gateway.system;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import org.junit.jupiter.api.Test;
import org.springframework.dao.DataAccessResourceFailureException;
import org.springframework.transaction.CannotCreateTransactionException;
import org.springframework.transaction.TransactionSystemException;

/** Which failures are a database outage (503 and a retry) rather than a bug (500); issue 6, scenario 4. */
class DatabaseFailuresTest {

    @Test
    void noConnectionForATransactionIsAnOutage() {
        // what an Idempotency-Key submission (a transaction template) gets while PostgreSQL is down
        assertThat(DatabaseFailures.isUnavailable(new CannotCreateTransactionException(
                        "Could not open JDBC Connection",
                        new SQLTransientConnectionException("Connection is not available, request timed out"))))
                .isTrue();
    }

    @Test
    void aRollbackThatFailsAfterTheConnectionDiedIsAnOutage() {
        TransactionSystemException rollback =
                new TransactionSystemException("JDBC rollback failed", new SQLException("Connection is closed"));
        rollback.initApplicationException(new DataAccessResourceFailureException("An I/O error occurred"));

        assertThat(DatabaseFailures.isUnavailable(rollback)).isTrue();
    }

    @Test
    void aCommitCutOffByTheServerGoingAwayIsAnOutage() {
        // scenario 4's kill -9 of PostgreSQL during a merge's commit: the driver's error, untranslated
        assertThat(DatabaseFailures.isUnavailable(
                        commitFailed("FATAL: terminating connection due to unexpected postmaster exit", "57P01")))
                .isTrue();
        assertThat(DatabaseFailures.isUnavailable(
                        commitFailed("An I/O error occurred while sending to the backend.", "08006")))
                .isTrue();
        assertThat(DatabaseFailures.isUnavailable(new SQLException("the database system is starting up", "57P03")))
                .isTrue();
    }

    @Test
    void aCommitRefusedForTheDataIsNot() {
        assertThat(DatabaseFailures.isUnavailable(
                        commitFailed("duplicate key value violates unique constraint", "23505")))
                .isFalse();
        assertThat(DatabaseFailures.isUnavailable(new SQLException("no state"))).isFalse();
    }

    /** A failed commit as Spring passes it on: the driver's error with its SQLSTATE, untranslated. */
    private static TransactionSystemException commitFailed(String driverMessage, String sqlState) {
        return new TransactionSystemException("JDBC commit failed", new SQLException(driverMessage, sqlState));
    }

    @Test
    void aRollbackThatFailsAfterABugIsNot() {
        TransactionSystemException rollback =
                new TransactionSystemException("JDBC rollback failed", new SQLException("Connection is closed"));
        rollback.initApplicationException(new IllegalStateException("a bug"));

        assertThat(DatabaseFailures.isUnavailable(rollback)).isFalse();
        assertThat(DatabaseFailures.isUnavailable(new IllegalArgumentException("a bug")))
                .isFalse();
    }
}
