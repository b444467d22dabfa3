package io.forgequeue.gateway.job;

import io.forgequeue.gateway.system.WireJson;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.transaction.support.TransactionTemplate;

/** The job row mapper and the job moves for tests outside this package that run statements without a Spring context. */
public final class JobRowsFixture {

    private JobRowsFixture() {}

    public static JobRows jobRows(WireJson json) {
        return new JobRows(json);
    }

    public static EventMoves eventMoves(JdbcClient jdbc, WireJson json, TransactionTemplate tx) {
        return new EventMoves(jdbc, new JobRows(json), json, new FlushedCommits(jdbc, tx));
    }
}
