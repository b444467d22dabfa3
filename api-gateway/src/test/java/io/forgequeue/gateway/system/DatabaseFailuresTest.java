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
    void aRollbackThatFailsAfterABugIsNot() {
        TransactionSystemException rollback =
                new TransactionSystemException("JDBC rollback failed", new SQLException("Connection is closed"));
        rollback.initApplicationException(new IllegalStateException("a bug"));

        assertThat(DatabaseFailures.isUnavailable(rollback)).isFalse();
        assertThat(DatabaseFailures.isUnavailable(new IllegalArgumentException("a bug")))
                .isFalse();
    }
}
