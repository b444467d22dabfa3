package io.forgequeue.gateway.outbox;

import io.forgequeue.gateway.job.JobRow;
import io.forgequeue.gateway.job.JobRows;
import io.forgequeue.gateway.system.DbTime;
import io.forgequeue.gateway.system.SqlArrays;
import io.forgequeue.gateway.system.WireJson;
import io.forgequeue.model.CancelJobCommand;
import io.forgequeue.model.ErrorCode;
import io.forgequeue.model.JobMessage;
import io.forgequeue.model.JobSpec;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;

import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/** Statements on the outbox table. Claims use FOR UPDATE SKIP LOCKED, so any number of gateways can sweep. */
@Repository
class OutboxRepository {

    private final JdbcClient jdbc;
    private final WireJson json;
    private final JobRows rows;

    OutboxRepository(JdbcClient jdbc, WireJson json, JobRows rows) {
        this.jdbc = jdbc;
        this.json = json;
        this.rows = rows;
    }

    /** A claimed entry; {@code stale} when it is a job message for a job that is no longer QUEUED. */
    record Claimed(OutboxEntry entry, boolean stale) {
    }

    /**
     * Claims up to {@code limit} unsent entries that nobody holds (never claimed, released, or lease expired) for
     * {@code lease}, oldest first, and returns them with what to publish.
     */
    List<Claimed> claim(String instance, Duration lease, int limit) {
        return jdbc.sql("""
                        with picked as (
                            select id from outbox
                            where sent_at is null and (claimed_until is null or claimed_until < now())
                            order by id
                            limit :limit
                            for update skip locked
                        ), claimed as (
                            update outbox o
                            set claimed_by = :instance, claimed_until = now() + make_interval(secs => :lease),
                                attempts = o.attempts + 1
                            from picked where o.id = picked.id
                            returning o.id, o.kind, o.job_id, o.created_at, o.attempts
                        )
                        select c.id, c.kind, c.job_id, c.created_at, c.attempts,
                               j.pool, j.ticket, j.spec::text as spec, j.status, j.created_at as job_created_at
                        from claimed c left join job j on j.id = c.job_id
                        order by c.id""")
                .param("instance", instance).param("lease", (double) lease.toMillis() / 1000).param("limit", limit)
                .query((rs, i) -> {
                    long id = rs.getLong("id");
                    int attempts = rs.getInt("attempts");
                    UUID jobId = rs.getObject("job_id", UUID.class);
                    if ("CANCEL".equals(rs.getString("kind"))) {
                        return new Claimed(new OutboxEntry(id, attempts, null,
                                new CancelJobCommand(jobId, DbTime.get(rs, "created_at"))), false);
                    }
                    if (rs.getString("pool") == null) {
                        return new Claimed(new OutboxEntry(id, attempts, null, null), true);
                    }
                    JobMessage message = new JobMessage(jobId, rs.getLong("ticket"), rs.getString("pool"),
                            json.read(rs.getString("spec"), JobSpec.class), DbTime.get(rs, "job_created_at"));
                    return new Claimed(new OutboxEntry(id, attempts, message, null),
                            !"QUEUED".equals(rs.getString("status")));
                })
                .list();
    }

    void markSent(Collection<Long> ids) {
        jdbc.sql("update outbox set sent_at = now(), claimed_until = null where id = any(cast(:ids as bigint[]))")
                .param("ids", SqlArrays.of(ids)).update();
    }

    /** Gives claimed entries back so that the next sweep (of any instance) publishes them. */
    void release(Collection<Long> ids) {
        jdbc.sql("""
                        update outbox set claimed_by = null, claimed_until = null
                        where id = any(cast(:ids as bigint[])) and sent_at is null""")
                .param("ids", SqlArrays.of(ids)).update();
    }

    /** Seconds since the oldest unsent entry was written, 0 when none. */
    double lagSeconds() {
        return jdbc.sql("""
                        select coalesce(extract(epoch from now() - min(created_at)), 0)::float8
                        from (select created_at from outbox where sent_at is null order by id limit 1) oldest""")
                .query(Double.class).single();
    }

    int purgeSent(Duration retention) {
        return jdbc.sql("""
                        delete from outbox where id in (
                            select id from outbox where sent_at < now() - make_interval(secs => :retention) limit 10000)""")
                .param("retention", (double) retention.toSeconds()).update();
    }

    /** Fails a still-QUEUED job whose message cannot be routed; returns the row if it changed. */
    Optional<JobRow> failDispatch(UUID jobId, String message) {
        return jdbc.sql("""
                        with upd as (
                            update job set status = 'FAILED', error_code = :code, error_message = :message,
                                           finished_at = now(), version = version + 1
                            where id = :id and status = 'QUEUED'
                            returning %s
                        ), hist as (
                            insert into job_state_history (job_id, from_status, to_status, attempt, reason, occurred_at)
                            select id, 'QUEUED', 'FAILED', attempt, :code, now() from upd
                        )
                        select * from upd""".formatted(JobRows.columns("job")))
                .param("id", jobId).param("code", ErrorCode.DISPATCH_FAILED.name()).param("message", message)
                .query(rows).optional();
    }
}
