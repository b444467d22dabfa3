package io.forgequeue.gateway.job;

import io.forgequeue.gateway.system.DbTime;
import io.forgequeue.gateway.system.SqlArrays;
import io.forgequeue.model.JobStatus;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;

/**
 * Statements on the job table for the REST side. Each change is ONE statement (data-modifying CTEs): the job row,
 * its history row and its outbox entry are written together, so they commit together even without an explicit
 * transaction.
 */
@Repository
class JobRepository {

    /** The owner's cancel of a waiting job (a running one only gets {@code cancel_requested_at}). */
    private static final String QUEUED_CANCELLED =
            JobTransitions.movingFrom("cur.status", JobStatus.QUEUED, JobStatus.CANCELLED);

    private static final String RETURNING = JobRows.columns("job").replace("job.", "");

    private final JdbcClient jdbc;
    private final JobRows rows;

    JobRepository(JdbcClient jdbc, JobRows rows) {
        this.jdbc = jdbc;
        this.rows = rows;
    }

    /** What a new job is, beyond its spec: its place in the scheduler's order and its limits. */
    record NewJob(
            UUID id,
            UUID owner,
            String pool,
            String specJson,
            int priority,
            double cost,
            double weight,
            String checkpoint,
            String sampler) {}

    /**
     * Inserts a QUEUED job with its history row, unless the owner has {@code maxQueued} or more jobs waiting (counted
     * up to {@code maxQueued}, so the check costs at most that many index entries). In the same statement the job
     * gets its fair-share tag: its key's virtual finish time in the pool, but never below the pool's virtual time
     * (an idle key cannot bank credit), and the key's clock moves on by {@code cost / weight}. Returns the waiting
     * count and, if inserted, the row.
     *
     * <p>The cap check and the insert are one statement but not serialised per key: concurrent submissions of one
     * key can exceed the cap by at most the number of requests in flight at that moment.
     */
    Inserted insert(NewJob job, int maxQueued) {
        return jdbc.sql("""
                        with cap as (
                            select count(*) as waiting from (
                                select 1 from job
                                where owner_key_id = :owner and status = 'QUEUED'
                                limit :cap
                            ) w
                        ), vt as (
                            select coalesce((select vtime from pool_clock where pool = :pool), 0) as vtime
                        ), clock as (
                            insert into fair_clock as f (owner_key_id, pool, vfinish)
                            select :owner, :pool, vt.vtime + :share from cap, vt where cap.waiting < :cap
                            on conflict (owner_key_id, pool) do update
                                set vfinish = greatest(f.vfinish, (select vtime from vt)) + :share
                            returning vfinish
                        ), ins as (
                            insert into job (id, owner_key_id, pool, spec, status, priority, requested_priority, fair_tag,
                                             cost, checkpoint, sampler)
                            select :id, :owner, :pool, cast(:spec as jsonb), 'QUEUED', :priority, :priority,
                                   clock.vfinish - :share, :cost, :checkpoint, :sampler
                            from clock
                            returning %s
                        ), hist as (
                            insert into job_state_history (job_id, from_status, to_status, attempt, reason, occurred_at)
                            select id, null, 'QUEUED', 0, 'submitted', created_at from ins
                        )
                        select cap.waiting, ins.*
                        from cap left join ins on true""".formatted(RETURNING))
                .param("id", job.id())
                .param("owner", job.owner())
                .param("pool", job.pool())
                .param("spec", job.specJson())
                .param("cap", maxQueued)
                .param("priority", job.priority())
                .param("cost", job.cost())
                .param("share", job.cost() / job.weight())
                .param("checkpoint", job.checkpoint(), java.sql.Types.VARCHAR)
                .param("sampler", job.sampler(), java.sql.Types.VARCHAR)
                .query((rs, i) -> {
                    long waiting = rs.getLong("waiting");
                    if (rs.getObject("id") == null) {
                        return new Inserted(waiting, null);
                    }
                    return new Inserted(waiting, rows.mapRow(rs, i));
                })
                .single();
    }

    /**
     * Claims an Idempotency-Key for a new job (or takes over an expired one). False when the key is in use: then
     * {@link #idempotencyKey} tells for which request and job.
     */
    boolean claimIdempotencyKey(UUID owner, String key, byte[] requestHash, UUID jobId, Duration retention) {
        return jdbc.sql("""
                        insert into idempotency_key (owner_key_id, idempotency_key, request_hash, job_id)
                        values (:owner, :key, :hash, :job)
                        on conflict (owner_key_id, idempotency_key) do update
                            set request_hash = excluded.request_hash, job_id = excluded.job_id, created_at = now()
                            where idempotency_key.created_at < now() - make_interval(secs => :retention)""")
                        .param("owner", owner)
                        .param("key", key)
                        .param("hash", requestHash)
                        .param("job", jobId)
                        .param("retention", (double) retention.toSeconds())
                        .update()
                == 1;
    }

    Optional<IdempotencyRecord> idempotencyKey(UUID owner, String key) {
        return jdbc.sql(
                        "select request_hash, job_id from idempotency_key where owner_key_id = :owner and idempotency_key = :key")
                .param("owner", owner)
                .param("key", key)
                .query((rs, i) ->
                        new IdempotencyRecord(rs.getBytes("request_hash"), rs.getObject("job_id", UUID.class)))
                .optional();
    }

    Optional<JobRow> find(UUID owner, UUID id) {
        return jdbc.sql("select " + JobRows.columns("j") + " from job j where j.id = :id and j.owner_key_id = :owner")
                .param("id", id)
                .param("owner", owner)
                .query(rows)
                .optional();
    }

    /**
     * A page of the owner's jobs, newest first, with tickets below {@code beforeTicket}: only those in
     * {@code statuses} (empty: all), whose prompt contains {@code promptPart} ignoring case (null: any), and without
     * the hidden ones unless {@code withHidden}. Walks the index job_owner_ticket.
     */
    List<JobRow> list(
            UUID owner, Set<JobStatus> statuses, String promptPart, boolean withHidden, long beforeTicket, int limit) {
        String filter = statuses.isEmpty()
                ? ""
                : " and j.status in ("
                        + statuses.stream().map(s -> "'" + s.name() + "'").collect(Collectors.joining(",")) + ")";
        if (!withHidden) {
            filter += " and j.hidden_at is null";
        }
        if (promptPart != null) {
            filter += " and strpos(lower(j.spec ->> 'prompt'), lower(:part)) > 0";
        }
        var statement = jdbc.sql("select " + JobRows.columns("j") + " from job j where j.owner_key_id = :owner "
                        + "and j.ticket < :before" + filter + " order by j.ticket desc limit :limit")
                .param("owner", owner)
                .param("before", beforeTicket)
                .param("limit", limit);
        if (promptPart != null) {
            statement = statement.param("part", promptPart);
        }
        return statement.query(rows).list();
    }

    /**
     * Hides the owner's finished job from its history ({@code hide}) or shows it again, in one statement that also
     * moves the version on (so every open page learns of it). Empty when the job does not exist, is not finished
     * or already is as asked: {@link #find} tells which.
     */
    Optional<JobRow> hide(UUID owner, UUID id, boolean hide) {
        return jdbc.sql("""
                        update job set hidden_at = case when :hide then now() else null end, version = version + 1
                        where id = :id and owner_key_id = :owner and status in ('SUCCEEDED', 'FAILED', 'CANCELLED')
                          and (hidden_at is null) = :hide
                        returning %s""".formatted(RETURNING))
                .param("id", id)
                .param("owner", owner)
                .param("hide", hide)
                .query(rows)
                .optional();
    }

    /** The owner's jobs still QUEUED or RUNNING (at most its caps, so few). */
    List<JobRow> inFlight(UUID owner) {
        return jdbc.sql("select " + JobRows.columns("j") + " from job j where j.owner_key_id = :owner "
                        + "and j.status in ('QUEUED', 'RUNNING') order by j.ticket")
                .param("owner", owner)
                .query(rows)
                .list();
    }

    List<JobQueries.JobVersion> versions(Collection<UUID> ids) {
        return jdbc.sql("select id, owner_key_id, version from job where id = any(cast(:ids as uuid[]))")
                .param("ids", SqlArrays.of(ids))
                .query((rs, i) -> new JobQueries.JobVersion(
                        rs.getObject("id", UUID.class),
                        rs.getObject("owner_key_id", UUID.class),
                        rs.getLong("version")))
                .list();
    }

    /** Uses the indexes job_owner_ticket (ticket above) and job_owner_in_flight (QUEUED, RUNNING). */
    List<JobQueries.JobVersion> inFlightOrNewer(Collection<UUID> owners, long afterTicket) {
        return jdbc.sql("""
                        select id, owner_key_id, version from job
                        where owner_key_id = any(cast(:owners as uuid[]))
                          and (ticket > :after or status in ('QUEUED', 'RUNNING'))""")
                .param("owners", SqlArrays.of(owners))
                .param("after", afterTicket)
                .query((rs, i) -> new JobQueries.JobVersion(
                        rs.getObject("id", UUID.class),
                        rs.getObject("owner_key_id", UUID.class),
                        rs.getLong("version")))
                .list();
    }

    long ticketWatermark() {
        return jdbc.sql("select case when is_called then last_value else last_value - 1 end from job_ticket_seq")
                .query(Long.class)
                .single();
    }

    /**
     * Cancels the owner's job in one statement: QUEUED becomes CANCELLED at once; RUNNING gets
     * {@code cancel_requested_at}; either way (once) an outbox entry for the cancel command, claimed by
     * {@code instance}. Terminal jobs and repeated cancels of a running job change nothing.
     */
    Optional<Cancelled> cancel(UUID owner, UUID id, String instance, Duration lease) {
        return jdbc.sql("""
                        with cur as (
                            select id, status, cancel_requested_at from job
                            where id = :id and owner_key_id = :owner
                            for update
                        ), upd as (
                            update job set
                                status = case when %1$s then 'CANCELLED' else job.status end,
                                finished_at = case when %1$s then now() else job.finished_at end,
                                assigned_worker = case when %1$s then null else job.assigned_worker end,
                                cancel_requested_at = coalesce(job.cancel_requested_at, now()),
                                version = job.version + 1
                            from cur
                            where job.id = cur.id
                              and (%1$s or (cur.status = 'RUNNING' and cur.cancel_requested_at is null))
                            returning %2$s
                        ), hist as (
                            insert into job_state_history (job_id, from_status, to_status, attempt, reason, occurred_at)
                            select id, 'QUEUED', 'CANCELLED', attempt, 'cancelled by its owner', now()
                            from upd where status = 'CANCELLED'
                        ), ob as (
                            insert into outbox (kind, job_id, claimed_by, claimed_until, attempts)
                            select 'CANCEL', id, :instance, now() + make_interval(secs => :lease), 1 from upd
                            returning id, created_at
                        )
                        select cur.status as old_status, (select ob.id from ob) as outbox_id,
                               (select ob.created_at from ob) as outbox_created_at, upd.*
                        from cur left join upd on true""".formatted(QUEUED_CANCELLED, JobRows.columns("job")))
                .param("id", id)
                .param("owner", owner)
                .param("instance", instance)
                .param("lease", (double) lease.toMillis() / 1000)
                .query((rs, i) -> new Cancelled(
                        JobStatus.valueOf(rs.getString("old_status")),
                        rs.getObject("id") == null ? null : rows.mapRow(rs, i),
                        rs.getObject("outbox_id") == null ? 0 : rs.getLong("outbox_id"),
                        DbTime.get(rs, "outbox_created_at")))
                .optional();
    }

    /**
     * Cancels the QUEUED jobs of {@code owner} up to ticket {@code upTo} in one statement (its key was disabled, or
     * its owner cancels all its waiting jobs): each becomes CANCELLED with its history row and an outbox entry for
     * the cancel command (a job already handed to a worker is taken back by it), claimed by {@code instance}.
     * RUNNING jobs are left to finish.
     *
     * <p>With {@code skipLocked}, rows another transaction holds (a batch of hand-outs commits) are left for the
     * next call instead of waited for: a statement that waits for one row while it holds the others locks rows in
     * another order than the hand-outs, which lock theirs in decision order, and the two deadlock.
     */
    List<Cancelled> cancelQueuedOf(
            UUID owner, long upTo, boolean skipLocked, String reason, String instance, Duration lease) {
        return jdbc.sql("""
                        with cur as (
                            select id from job
                            where owner_key_id = :owner and status = 'QUEUED' and ticket <= :upTo
                            for update%s
                        ), upd as (
                            update job set
                                status = 'CANCELLED', finished_at = now(), assigned_worker = null,
                                cancel_requested_at = coalesce(job.cancel_requested_at, now()),
                                version = job.version + 1
                            from cur
                            where job.id = cur.id and job.status = 'QUEUED' and job.status in (%s)
                            returning %s
                        ), hist as (
                            insert into job_state_history (job_id, from_status, to_status, attempt, reason, occurred_at)
                            select id, 'QUEUED', 'CANCELLED', attempt, :reason, now() from upd
                        ), ob as (
                            insert into outbox (kind, job_id, claimed_by, claimed_until, attempts)
                            select 'CANCEL', id, :instance, now() + make_interval(secs => :lease), 1 from upd
                            returning id, job_id, created_at
                        )
                        select ob.id as outbox_id, ob.created_at as outbox_created_at, upd.*
                        from upd join ob on ob.job_id = upd.id
                        order by upd.ticket""".formatted(
                                skipLocked ? " skip locked" : "",
                                JobTransitions.sourcesOf(JobStatus.CANCELLED),
                                JobRows.columns("job")))
                .param("owner", owner)
                .param("upTo", upTo)
                .param("reason", reason)
                .param("instance", instance)
                .param("lease", (double) lease.toMillis() / 1000)
                .query((rs, i) -> new Cancelled(
                        JobStatus.QUEUED,
                        rows.mapRow(rs, i),
                        rs.getLong("outbox_id"),
                        DbTime.get(rs, "outbox_created_at")))
                .list();
    }

    /** The last ticket of {@code owner}'s QUEUED jobs, or -1 when it has none. */
    long lastQueuedTicketOf(UUID owner) {
        return jdbc.sql("select coalesce(max(ticket), -1) from job where owner_key_id = :owner and status = 'QUEUED'")
                .param("owner", owner)
                .query(Long.class)
                .single();
    }

    /** Whether {@code owner} has a QUEUED job up to ticket {@code upTo} (a row locked elsewhere counts). */
    boolean hasQueuedOf(UUID owner, long upTo) {
        return jdbc.sql("""
                        select exists (select 1 from job
                                       where owner_key_id = :owner and status = 'QUEUED' and ticket <= :upTo)""")
                .param("owner", owner)
                .param("upTo", upTo)
                .query(Boolean.class)
                .single();
    }

    /** The image's type, validator and bytes (null bytes when {@code ifNoneMatch} equals the validator). */
    Optional<ImageBytes> image(UUID owner, UUID id, int index, String ifNoneMatch) {
        return jdbc.sql("""
                        select i.mime_type, i.etag, case when i.etag = :inm then null else i.data end as data
                        from job_image i join job j on j.id = i.job_id
                        where j.id = :id and j.owner_key_id = :owner and i.idx = :idx""")
                .param("id", id)
                .param("owner", owner)
                .param("idx", index)
                .param("inm", ifNoneMatch == null ? "" : ifNoneMatch)
                .query((rs, i) -> new ImageBytes(rs.getString("mime_type"), rs.getString("etag"), rs.getBytes("data")))
                .optional();
    }

    int purgeIdempotencyKeys(Duration retention) {
        return jdbc.sql("delete from idempotency_key where created_at < now() - make_interval(secs => :retention)")
                .param("retention", (double) retention.toSeconds())
                .update();
    }

    record Inserted(long inFlight, JobRow row) {
        boolean accepted() {
            return row != null;
        }
    }

    record IdempotencyRecord(byte[] requestHash, UUID jobId) {}

    record Cancelled(JobStatus oldStatus, JobRow row, long outboxId, Instant outboxCreatedAt) {
        boolean changed() {
            return row != null;
        }
    }

    record ImageBytes(String mimeType, String etag, byte[] data) {}
}
