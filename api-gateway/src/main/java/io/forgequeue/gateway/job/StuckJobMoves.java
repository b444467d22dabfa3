package io.forgequeue.gateway.job;

import io.forgequeue.model.ErrorCode;
import io.forgequeue.model.JobStatus;
import java.time.Duration;
import java.util.List;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

/**
 * The stuck-job sweep's move: fails RUNNING jobs that sent no event for a while with {@link ErrorCode#JOB_STUCK},
 * in one statement that also writes their history rows and queues a cancel command (outbox) for each, so that a
 * worker that is merely slow stops wasting its GPU on it. Rows are picked with FOR UPDATE SKIP LOCKED and updated
 * only while still RUNNING, so gateways sweeping at the same time never handle a job twice. Each change is announced
 * ({@link JobChanged}) after it committed.
 */
@Component
public class StuckJobMoves {

    private final JdbcClient jdbc;
    private final JobRows rows;
    private final ApplicationEventPublisher events;

    StuckJobMoves(JdbcClient jdbc, JobRows rows, ApplicationEventPublisher events) {
        this.jdbc = jdbc;
        this.rows = rows;
        this.events = events;
    }

    /**
     * Fails at most {@code limit} jobs this instance could lock that have been RUNNING without an event for longer
     * than {@code threshold}, with {@code message} for their owners; returns them as they are now.
     */
    public List<JobRow> failStuck(Duration threshold, int limit, String message) {
        List<JobRow> failed = jdbc.sql(
                        """
                        with stuck as (
                            select id from job
                            where status = 'RUNNING'
                              and coalesce(last_event_at, created_at) < now() - make_interval(secs => :threshold)
                            order by last_event_at
                            limit :limit
                            for update skip locked
                        ), upd as (
                            update job set status = 'FAILED', error_code = :code, error_message = :message,
                                           finished_at = now(), assigned_worker = null, assigned_at = null,
                                           version = job.version + 1
                            from stuck
                            where job.id = stuck.id and job.status = 'RUNNING' and job.status in (%s)
                            returning %s
                        ), hist as (
                            insert into job_state_history (job_id, from_status, to_status, attempt, worker_id, reason, occurred_at)
                            select id, 'RUNNING', 'FAILED', attempt, worker_id, :code, now() from upd
                        ), cancel as (
                            insert into outbox (kind, job_id) select 'CANCEL', id from upd
                        )
                        select * from upd""".formatted(JobTransitions.sourcesOf(JobStatus.FAILED), JobRows.columns("job")))
                .param("threshold", (double) threshold.toMillis() / 1000)
                .param("limit", limit)
                .param("code", ErrorCode.JOB_STUCK.name())
                .param("message", message)
                .query(rows)
                .list();
        for (JobRow row : failed) {
            events.publishEvent(new JobChanged(row, JobStatus.RUNNING, null));
        }
        return failed;
    }
}
