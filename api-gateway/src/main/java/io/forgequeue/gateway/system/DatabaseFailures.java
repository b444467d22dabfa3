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
            // the server went away under a statement or a commit: the driver's own error, not translated when it
            // comes from the commit (a TransactionSystemException "JDBC commit failed"; reliability scenario 4 saw a
            // merge whose commit the database's kill -9 cut off dropped as a bug, its worker's outcome lost)
            if (t instanceof java.sql.SQLException sql && connectionLost(sql.getSQLState())) {
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

    /**
     * SQLSTATE class 08 (connection exception: the driver's I/O errors are 08006) and 57P01-57P03 (the server shut
     * down, crashed, or cannot take connections yet).
     */
    private static boolean connectionLost(String sqlState) {
        return sqlState != null
                && (sqlState.startsWith("08")
                        || sqlState.equals("57P01")
                        || sqlState.equals("57P02")
                        || sqlState.equals("57P03"));
    }
}
