package io.forgequeue.gateway.job;

import io.forgequeue.model.JobStatus;

/**
 * The one guarded statement that merges a status event into a job. It locks the row (SELECT ... FOR UPDATE in
 * the first CTE, so concurrent merges of the same job serialise and each sees the other's result), classifies
 * the event and writes the job row and its history row together.
 *
 * <p>An event belongs to an <em>assignment</em> {@code (attempt, workerId)}. It is <b>current</b> when its attempt
 * is the job's attempt and its worker is the job's assigned worker (for a finished job: the worker that finished it).
 * It is also <b>attributed</b> when its publisher (the RabbitMQ-validated {@code user_id} of the message) is the
 * broker user of that assignment's worker ({@code job.worker_user}, recorded at the hand-out; no check when null):
 * an event that names the right assignment but comes from another worker's credential changes nothing
 * ({@code wrong-publisher}), so a worker can at most spoil the jobs handed to it. Only an attributed current event
 * counts as current below. Classification, against the row as it is now:
 * <ul>
 *   <li><b>fresh</b>: current, the job is not terminal, the sequence number is above the last applied one, and the
 *       move from the job's status to the event's implied status is in {@link JobStatus}'s table (staying in QUEUED
 *       or RUNNING counts as allowed: a progress or heartbeat). Applied: status, seq, worker, error, finish time,
 *       images; progress never backwards within an attempt; metadata deep-merged with the event winning. A job that
 *       goes back to the queue (REQUEUED) or ends releases its assignment (the worker's GPU slot). A job that ends
 *       after it ran corrects its key's fair-share clock by what it really took (its GPU seconds over the pool's
 *       measured seconds per standard image) minus its size in standard images.</li>
 *   <li><b>late</b>: current, seq not above the job's (a duplicate, or an older event arriving after a newer one).
 *       Status never changes, but facts the in-order delivery would have recorded are filled in: metadata
 *       deep-merged with the existing values winning, the start time (earliest running-type event of the
 *       attempt) and progress (the highest), the latter two only when a worker holds the job in this attempt. So
 *       duplicated and shuffled deliveries of one attempt end in the same row as in-order delivery, and an exact
 *       duplicate changes nothing (no write, no version bump). The metadata of a job whose data were erased
 *       ({@code data_erased_at}) is left alone, so a late copy of its outcome cannot bring back what was erased.</li>
 *   <li>anything else changes nothing: an older attempt (stale), the current attempt from a worker that no longer
 *       holds it (revoked), an attempt the scheduler never handed out (unknown), a terminal job, an illegal move.</li>
 * </ul>
 * A fresh SUCCEEDED also stores its images (bytes in {@code job_image}) in the same statement, so a client that sees
 * SUCCEEDED can always download them. The final SELECT returns the old status/attempt/seq and the flags (to name the
 * reason of a rejection) and the new row.
 */
final class MergeStatement {

    static final String SQL =
            """
            with ev as (
                select cast(:id as uuid) as id, cast(:attempt as integer) as attempt, cast(:seq as bigint) as seq,
                       cast(:implied as text) as implied, cast(:worker as text) as worker,
                       cast(:at as timestamptz) as at, cast(:progress as integer) as progress,
                       cast(:code as text) as code, cast(:message as text) as message,
                       cast(:meta as jsonb) as meta, cast(:images as jsonb) as images, cast(:reason as text) as reason,
                       cast(:weight as double precision) as default_weight, cast(:rates as jsonb) as rates,
                       cast(:publisher as text) as publisher
            ), old as (
                select job.id, job.status, job.attempt, job.last_seq, job.progress, job.metadata, job.started_at,
                       job.worker_id, job.assigned_worker, job.owner_key_id, job.pool, job.cost, job.data_erased_at,
                       job.worker_user
                from job join ev on job.id = ev.id
                for update of job
            ), asg as (
                select old.*,
                       old.status in (%1$s) as terminal,
                       (ev.attempt = old.attempt and ev.worker = case
                           when old.status in (%1$s) then old.worker_id
                           else old.assigned_worker end) is true as assignment,
                       (old.worker_user is null or old.worker_user = ev.publisher) is true as publisher_ok
                from old cross join ev
            ), cur as (
                select asg.*, (asg.assignment and asg.publisher_ok) as current
                from asg
            ), calc as (
                select cur.*,
                       (cur.current and ev.seq <= cur.last_seq) as late,
                       (cur.current and not cur.terminal and ev.seq > cur.last_seq
                           and (cur.status || '>' || ev.implied) in (%2$s)) as fresh,
                       (cur.worker_id is not null and cur.status <> 'QUEUED') as held
                from cur cross join ev
            ), nxt as (
                select calc.*,
                       case when calc.fresh then ev.implied else calc.status end as n_status,
                       case
                           when calc.fresh and ev.implied = 'SUCCEEDED' then 100
                           when calc.fresh and ev.implied = 'QUEUED' then 0
                           when calc.fresh then greatest(calc.progress, coalesce(ev.progress, 0))
                           when calc.late and calc.held and calc.status = 'SUCCEEDED' then 100
                           when calc.late and calc.held then greatest(calc.progress, coalesce(ev.progress, 0))
                           else calc.progress
                       end as n_progress,
                       case
                           when calc.fresh then fq_jsonb_deep_merge(calc.metadata, ev.meta)
                           when calc.late and calc.data_erased_at is null then fq_jsonb_deep_merge(ev.meta, calc.metadata)
                           else calc.metadata
                       end as n_metadata,
                       case
                           when calc.fresh and ev.implied = 'QUEUED' then null
                           when calc.fresh and ev.implied = 'RUNNING' then least(coalesce(calc.started_at, ev.at), ev.at)
                           when calc.late and calc.held and ev.implied = 'RUNNING' then
                               least(coalesce(calc.started_at, ev.at), ev.at)
                           else calc.started_at
                       end as n_started_at
                from calc cross join ev
            ), upd as (
                update job set
                    status = nxt.n_status,
                    progress = nxt.n_progress,
                    metadata = nxt.n_metadata,
                    started_at = nxt.n_started_at,
                    last_seq = case when nxt.fresh then ev.seq else job.last_seq end,
                    worker_id = case when not nxt.fresh then job.worker_id
                                     when ev.implied = 'QUEUED' then null else ev.worker end,
                    assigned_worker = case when nxt.fresh and ev.implied <> 'RUNNING' then null
                                           else job.assigned_worker end,
                    assigned_at = case when nxt.fresh and ev.implied <> 'RUNNING' then null else job.assigned_at end,
                    queued_at = case when nxt.fresh and ev.implied = 'QUEUED' then now() else job.queued_at end,
                    error_code = case when not nxt.fresh then job.error_code
                                      when ev.implied = 'FAILED' then ev.code end,
                    error_message = case when not nxt.fresh then job.error_message
                                         when ev.implied = 'FAILED' then ev.message end,
                    finished_at = case when nxt.fresh and ev.implied in (%1$s)
                                       then ev.at else job.finished_at end,
                    last_event_at = case when nxt.fresh then now() else job.last_event_at end,
                    images = case when nxt.fresh and ev.implied = 'SUCCEEDED' then ev.images else job.images end,
                    version = job.version + 1
                from nxt cross join ev
                where job.id = nxt.id
                  and (nxt.fresh or (nxt.late and (nxt.n_progress <> nxt.progress
                                                   or nxt.n_metadata is distinct from nxt.metadata
                                                   or nxt.n_started_at is distinct from nxt.started_at)))
                returning %3$s
            ), hist as (
                insert into job_state_history (job_id, from_status, to_status, attempt, worker_id, reason, occurred_at)
                select upd.id, nxt.status, upd.status, upd.attempt, ev.worker, ev.reason, ev.at
                from upd join nxt on nxt.id = upd.id cross join ev
                where nxt.fresh and nxt.status <> upd.status
            ), imgs as (
                insert into job_image (job_id, idx, mime_type, width, height, seed, etag, data)
                select upd.id, i.idx, i.mime_type, i.width, i.height, i.seed, i.etag, i.data
                from upd join nxt on nxt.id = upd.id cross join ev
                     cross join unnest(cast(:img_idx as integer[]), cast(:img_mime as text[]),
                                        cast(:img_width as integer[]), cast(:img_height as integer[]),
                                        cast(:img_seed as bigint[]), cast(:img_etag as text[]),
                                        cast(:img_data as bytea[]))
                         as i(idx, mime_type, width, height, seed, etag, data)
                where nxt.fresh and ev.implied = 'SUCCEEDED'
                on conflict do nothing
            ), fair as (
                update fair_clock f
                set vfinish = f.vfinish
                    + (extract(epoch from ev.at - nxt.n_started_at) / (ev.rates ->> nxt.pool)::float8 - nxt.cost)
                      / coalesce(k.weight, ev.default_weight)
                from nxt join api_key k on k.id = nxt.owner_key_id cross join ev
                where f.owner_key_id = nxt.owner_key_id and f.pool = nxt.pool and nxt.fresh
                  and ev.implied in (%1$s) and nxt.n_started_at is not null
                  and ev.at > nxt.n_started_at and (ev.rates ->> nxt.pool)::float8 > 0
            )
            select nxt.status as old_status, nxt.attempt as old_attempt, nxt.last_seq as old_last_seq,
                   nxt.fresh as fresh, nxt.late as late, nxt.current as current, nxt.assignment as assignment,
                   nxt.publisher_ok as publisher_ok, upd.*
            from nxt left join upd on upd.id = nxt.id
            """.formatted(JobTransitions.terminal(), JobTransitions.movesAndStays(), JobRows.columns("job"));

    private MergeStatement() {}
}
