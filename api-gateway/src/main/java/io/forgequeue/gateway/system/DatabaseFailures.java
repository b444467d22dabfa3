package io.forgequeue.gateway.system;

import org.springframework.dao.DataAccessResourceFailureException;
import org.springframework.dao.QueryTimeoutException;
import org.springframework.dao.TransientDataAccessException;
import org.springframework.jdbc.CannotGetJdbcConnectionException;
import org.springframework.transaction.TransactionSystemException;

/** Tells an unreachable or overloaded database (worth a 503 and a retry) from a bug. */
public final class DatabaseFailures {

    private DatabaseFailures() {}

    /** Whether {@code ex} (or a cause) means the database cannot be reached right now. */
    public static boolean isUnavailable(Throwable ex) {
        for (Throwable t = ex; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof CannotGetJdbcConnectionException
                    || t instanceof DataAccessResourceFailureException
                    || t instanceof TransientDataAccessException
                    || t instanceof QueryTimeoutException
                    || t instanceof java.sql.SQLTransientException
                    || t instanceof java.net.ConnectException) {
                return true;
            }
            // the connection died inside a transaction: its rollback fails too and hides the first failure
            if (t instanceof TransactionSystemException tse
                    && tse.getApplicationException() != null
                    && tse.getApplicationException() != t
                    && isUnavailable(tse.getApplicationException())) {
                return true;
            }
        }
        return false;
    }
}
