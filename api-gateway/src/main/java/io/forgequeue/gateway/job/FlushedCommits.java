package io.forgequeue.gateway.job;

import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;
import org.springframework.transaction.support.TransactionCallback;
import org.springframework.transaction.support.TransactionSynchronizationManager;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Commits of the job moves that send a queue notification (the {@code fq_job_notify} trigger: submit, assign, merge),
 * made so that they do not queue behind each other's disk flush.
 *
 * <p><b>Why.</b> A PostgreSQL transaction that sent a NOTIFY holds a database-wide lock from just before its commit
 * until the commit is over, flush of the commit record included (it keeps the notification queue in commit order).
 * With {@code synchronous_commit = on} every notifying commit thus waits for its own WAL flush while every other
 * notifying commit waits for that lock: they are flushed one by one, never together. Each job needs several (its
 * submit, its assignment, the merges of its RUNNING event and of its outcome, the latter two batched with other
 * jobs' events), so the whole system did about 50 empty jobs a second on the shared build machine, whatever the
 * lookahead or the number of workers: a third of the throughput before the scheduler (issue 16; the wait shows in
 * {@code pg_stat_activity} as {@code Lock:object} on {@code pg_database}, the {@code AccessExclusiveLock} of
 * {@code PreCommit_Notify}, then {@code IO:WALSync}).
 *
 * <p><b>How.</b> The transaction commits with {@code synchronous_commit = off}: it releases the lock as soon as its
 * commit record is written, before the flush. Then, outside any transaction, a transactional logical-decoding
 * message is committed synchronously: a transaction that wrote WAL, so its commit waits until the WAL is flushed up
 * to its own commit record, which lies after the first commit's. These flushes of concurrent callers are combined
 * by PostgreSQL's group commit. The caller acts (answers the client, publishes the job message, acks the events)
 * only after {@link #inTransaction} returned, so nothing leaves the gateway that a database crash could take back.
 * What others see of a commit before its flush (the notification, a read) is what they would see of any commit just
 * before a crash; whatever they do with it that leaves the gateway goes through a commit of their own, flushed the
 * same way and later in the WAL, so flushing theirs flushes this one.
 *
 * <p><b>Not for submissions.</b> A flushed commit has a window in which the transaction is committed but the caller
 * cannot know it: the database stops (a fast shutdown ends every session) after the commit and before the flush.
 * The row survives, yet the caller saw an error. For a merge or an assignment that is harmless (the event is
 * redelivered and its merge is guarded; an assignment nobody was told of is taken back). For a submission it is not:
 * the client is answered 503, which promises that nothing was stored, and a client without an Idempotency-Key
 * submits again, so one request becomes two jobs (seen in reliability scenario 4). Submissions therefore commit
 * {@link #synchronously}: the commit and its flush are one step, and an error before it ends means nothing was
 * stored. They still send their notification and hold the lock through their own flush; that is the price of an
 * exact answer to the client.
 */
@Component
final class FlushedCommits {

    private final JdbcClient jdbc;
    private final TransactionTemplate tx;

    FlushedCommits(JdbcClient jdbc, TransactionTemplate tx) {
        this.jdbc = jdbc;
        this.tx = tx;
    }

    /**
     * Runs {@code work} in a transaction and returns once its commit is durable (see the class comment). Must not be
     * called inside a transaction: its flush would then come before the commit.
     */
    <T> T inTransaction(TransactionCallback<T> work) {
        requireNoTransaction();
        T result = tx.execute(status -> {
            jdbc.sql("set local synchronous_commit = off").update();
            return work.doInTransaction(status);
        });
        flush();
        return result;
    }

    /**
     * Runs {@code work} in a transaction with a synchronous commit: when this returns the commit is durable, and when
     * it throws before the commit the transaction did not happen (see the class comment for who needs that).
     */
    <T> T synchronously(TransactionCallback<T> work) {
        requireNoTransaction();
        return tx.execute(work);
    }

    /** Returns once everything committed before this call is on disk. Outside a transaction only. */
    void flush() {
        requireNoTransaction();
        jdbc.sql("select pg_logical_emit_message(true, 'forgequeue', 'flush')::text")
                .query(String.class)
                .single();
    }

    private static void requireNoTransaction() {
        if (TransactionSynchronizationManager.isActualTransactionActive()) {
            throw new IllegalStateException("a flushed commit inside a transaction would flush before it commits");
        }
    }
}
