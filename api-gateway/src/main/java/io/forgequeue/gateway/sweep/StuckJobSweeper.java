package io.forgequeue.gateway.sweep;

import io.forgequeue.gateway.job.JobChanged;
import io.forgequeue.gateway.job.JobRow;
import io.forgequeue.gateway.job.JobRows;
import io.forgequeue.gateway.job.JobTransitions;
import io.forgequeue.gateway.system.GatewayMetrics;
import io.forgequeue.model.ErrorCode;
import io.forgequeue.model.JobStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.dao.DataAccessException;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;

import java.util.List;

/**
 * Fails RUNNING jobs that sent no event for {@link StuckSweepProperties#threshold()} with {@link ErrorCode#JOB_STUCK}
 * and tells their clients. One statement per sweep: rows are picked with FOR UPDATE SKIP LOCKED and updated only
 * while still RUNNING, so gateways sweeping at the same time never handle a job twice. A cancel command is queued
 * (outbox) for each, so that a worker that is merely slow stops wasting its GPU on it.
 */
@Component
class StuckJobSweeper {

    private static final Logger log = LoggerFactory.getLogger(StuckJobSweeper.class);

    private final JdbcClient jdbc;
    private final JobRows rows;
    private final StuckSweepProperties properties;
    private final GatewayMetrics metrics;
    private final ApplicationEventPublisher events;
    private final String message;

    StuckJobSweeper(JdbcClient jdbc, JobRows rows, StuckSweepProperties properties, GatewayMetrics metrics,
                    ApplicationEventPublisher events) {
        this.jdbc = jdbc;
        this.rows = rows;
        this.properties = properties;
        this.metrics = metrics;
        this.events = events;
        this.message = "The job stopped reporting progress for more than " + describe(properties.threshold())
                + " (its worker may have crashed or lost its connection), so it was given up. Please submit it again.";
    }

    @Scheduled(fixedDelayString = "${gateway.stuck-sweep.interval:30s}", initialDelayString = "${gateway.stuck-sweep.interval:30s}")
    void scheduled() {
        try {
            sweep();
        } catch (DataAccessException e) {
            log.warn("Stuck-job sweep failed: {}", e.getClass().getSimpleName());
        }
    }

    /** Fails the stuck jobs this instance could lock; returns them. */
    List<JobRow> sweep() {
        List<JobRow> failed = jdbc.sql("""
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
                        select * from upd""".formatted(JobTransitions.sourcesOf(JobStatus.FAILED),
                        JobRows.columns("job")))
                .param("threshold", (double) properties.threshold().toMillis() / 1000)
                .param("limit", properties.batchSize())
                .param("code", ErrorCode.JOB_STUCK.name())
                .param("message", message)
                .query(rows)
                .list();
        for (JobRow row : failed) {
            log.warn("Job(id={}) failed as stuck: no event from worker {} since {}", row.id(), row.workerId(),
                    row.lastEventAt());
            metrics.stuckJobFailed();
            metrics.jobFinished(JobStatus.FAILED, row.pool(), row.errorCode());
            events.publishEvent(new JobChanged(row, JobStatus.RUNNING, null));
        }
        return failed;
    }

    private static String describe(java.time.Duration d) {
        long seconds = d.toSeconds();
        if (seconds % 60 == 0 && seconds >= 60) {
            long minutes = seconds / 60;
            return minutes + (minutes == 1 ? " minute" : " minutes");
        }
        return seconds + (seconds == 1 ? " second" : " seconds");
    }
}
