package io.forgequeue.gateway.job;

import io.forgequeue.model.ErrorCode;
import io.forgequeue.model.JobMessage;
import io.forgequeue.model.JobStatus;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

/**
 * The scheduler's moves of job state, each one guarded statement that writes the job row and its history together
 * (and, for an assignment, the pool's fair-share virtual time). Every statement that hands out or takes back work
 * is fenced by the scheduler's lease: it changes nothing unless {@code holder} still holds the lease with
 * {@code epoch}, so a leader that was frozen or cut off cannot act after another took over. Each change is
 * announced ({@link JobChanged}) after it committed.
 */
@Component
public class JobMoves {

    private static final String LEASE_VALID = """
            exists (select 1 from scheduler_lease
                    where id = 1 and holder = :holder and epoch = :epoch and expires_at > now())""";

    private final JdbcClient jdbc;
    private final JobRows rows;
    private final ApplicationEventPublisher events;
    private final FlushedCommits commits;

    JobMoves(JdbcClient jdbc, JobRows rows, ApplicationEventPublisher events, FlushedCommits commits) {
        this.commits = commits;
        this.jdbc = jdbc;
        this.rows = rows;
        this.events = events;
    }

    /** The scheduler's lease as the statements check it. */
    public record Lease(String holder, long epoch) {}

    /** A committed hand-out: the row after it and the message for the worker. */
    public record Assigned(JobRow row, JobMessage message) {}

    /**
     * One hand-out the scheduler decided: the job, the worker, the broker user the worker announced itself with (null
     * when it announced without one; the merge then accepts the assignment's events only from that user), and how far
     * it may move the pool's virtual time.
     */
    public record Assignment(UUID jobId, String worker, String workerUser, double clockTag) {}

    /**
     * Assigns a waiting job to {@code worker} as its next attempt, unless the job is no longer waiting, has used
     * up {@code maxAttempts}, or the lease is not valid. Moves the pool's virtual time to the job's fair tag.
     */
    public Optional<Assigned> assign(UUID jobId, String worker, int maxAttempts, Lease lease) {
        return assignAll(List.of(new Assignment(jobId, worker, null, Double.POSITIVE_INFINITY)), maxAttempts, lease)
                .stream()
                .findFirst();
    }

    /**
     * Commits several hand-outs in one statement (one commit for a round's decisions). Each applies only if its job
     * is still waiting, unassigned and below {@code maxAttempts}, and only while the lease is valid; the others
     * change nothing and are missing from the result. The pool's virtual time moves at most to each assignment's
     * {@code clockTag}: the tag of the job the fair order would hand out now. When placement takes a job out of that
     * order (a warm checkpoint elsewhere), the virtual time stays with the jobs passed over, so keys that submit
     * meanwhile are tagged from there and not behind the passed-over jobs. Returns once the assignments are durable
     * ({@link FlushedCommits}): the job messages may be published then. The result and the history rows keep the
     * order of {@code assignments} (the order of the decisions).
     */
    public List<Assigned> assignAll(List<Assignment> assignments, int maxAttempts, Lease lease) {
        if (assignments.isEmpty()) {
            return List.of();
        }
        int n = assignments.size();
        String[] ids = new String[n];
        String[] workers = new String[n];
        String[] workerUsers = new String[n];
        double[] clockTags = new double[n];
        for (int i = 0; i < n; i++) {
            Assignment a = assignments.get(i);
            ids[i] = a.jobId().toString();
            workers[i] = a.worker();
            workerUsers[i] = a.workerUser();
            clockTags[i] = a.clockTag();
        }
        List<JobRow> assigned =
                commits.inTransaction(status -> jdbc.sql("""
                        with decided as (
                            select * from unnest(cast(:ids as uuid[]), cast(:workers as text[]),
                                                 cast(:workerUsers as text[]), cast(:clockTags as float8[]))
                                          with ordinality as d(id, worker, worker_user, clock_tag, ord)
                        ), upd as (
                            update job set assigned_worker = decided.worker, worker_user = decided.worker_user,
                                           assigned_at = now(), attempt = job.attempt + 1, last_seq = 0, progress = 0,
                                           started_at = null, version = job.version + 1
                            from decided
                            where job.id = decided.id and job.status = 'QUEUED' and job.assigned_worker is null
                              and job.attempt < :max and %s
                            returning decided.clock_tag, decided.ord, %s
                        ), clock as (
                            insert into pool_clock (pool, vtime)
                            select pool, max(least(fair_tag, clock_tag)) from upd group by pool
                            on conflict (pool) do update set vtime = greatest(pool_clock.vtime, excluded.vtime)
                        ), hist as (
                            insert into job_state_history (job_id, from_status, to_status, attempt, worker_id, reason,
                                                           occurred_at)
                            select id, 'QUEUED', 'QUEUED', attempt, assigned_worker, 'assigned', now() from upd
                            order by ord
                        )
                        select * from upd order by ord""".formatted(LEASE_VALID, JobRows.columns("job")))
                        .param("ids", ids)
                        .param("workers", workers)
                        .param("workerUsers", workerUsers)
                        .param("clockTags", clockTags)
                        .param("max", maxAttempts)
                        .param("holder", lease.holder())
                        .param("epoch", lease.epoch())
                        .query(rows)
                        .list());
        List<Assigned> result = new ArrayList<>(assigned.size());
        for (JobRow r : assigned) {
            events.publishEvent(new JobChanged(r, JobStatus.QUEUED, null));
            result.add(new Assigned(
                    r,
                    new JobMessage(
                            r.id(), r.attempt(), r.assignedWorker(), r.ticket(), r.pool(), r.spec(), r.createdAt())));
        }
        return result;
    }

    /** Fails a waiting job that was handed out {@code maxAttempts} times without finishing. */
    public Optional<JobRow> failTooManyAttempts(UUID jobId, int maxAttempts, Lease lease) {
        String message = "The job was started " + maxAttempts + " times without finishing (its workers were lost "
                + "or gave it back each time), so it was stopped. Please try again later.";
        Optional<JobRow> row = jdbc.sql(
                        """
                        with upd as (
                            update job set status = 'FAILED', error_code = :code, error_message = :message,
                                           finished_at = now(), version = job.version + 1
                            where job.id = :id and job.status in (%s) and job.status = 'QUEUED'
                              and job.assigned_worker is null and job.attempt >= :max and %s
                            returning %s
                        ), hist as (
                            insert into job_state_history (job_id, from_status, to_status, attempt, reason, occurred_at)
                            select id, 'QUEUED', 'FAILED', attempt, :code, now() from upd
                        )
                        select * from upd""".formatted(JobTransitions.sourcesOf(JobStatus.FAILED), LEASE_VALID, JobRows.columns("job")))
                .param("id", jobId)
                .param("code", ErrorCode.TOO_MANY_ATTEMPTS.name())
                .param("message", message)
                .param("max", maxAttempts)
                .param("holder", lease.holder())
                .param("epoch", lease.epoch())
                .query(rows)
                .optional();
        row.ifPresent(r -> events.publishEvent(new JobChanged(r, JobStatus.QUEUED, null)));
        return row;
    }

    /** Which of a worker's assignments a revocation takes back. */
    public enum Scope {
        /** Everything it holds (it is lost, gone or restarted): running jobs go back to the queue too. */
        ALL,
        /** Only the assignments it has not started (it paused or is draining; it gives back its running job). */
        NOT_STARTED
    }

    /**
     * Takes back assignments of {@code worker} and puts the jobs back in the queue (a RUNNING job is given back:
     * RUNNING -> QUEUED). Returns the rows that changed.
     */
    public List<JobRow> revokeWorker(String worker, Scope scope, String reason, Lease lease) {
        return revoke(
                "assigned_worker = :worker" + (scope == Scope.NOT_STARTED ? " and status = 'QUEUED'" : ""),
                null,
                0,
                worker,
                reason,
                lease);
    }

    /** Takes back one assignment, if it is still the job's current one. */
    public Optional<JobRow> revokeAssignment(UUID jobId, int attempt, String worker, String reason, Lease lease) {
        return revoke(
                        "id = :id and attempt = :attempt and assigned_worker = :worker",
                        jobId,
                        attempt,
                        worker,
                        reason,
                        lease)
                .stream()
                .findFirst();
    }

    private List<JobRow> revoke(String which, UUID jobId, int attempt, String worker, String reason, Lease lease) {
        List<JobRowWithOld> changed = jdbc.sql("""
                        with picked as (
                            select id, status as old_status from job
                            where %s and status in (%s)
                            for update
                        ), upd as (
                            update job set status = 'QUEUED', assigned_worker = null, assigned_at = null,
                                           queued_at = now(), worker_id = null, progress = 0, started_at = null,
                                           version = job.version + 1
                            from picked
                            where job.id = picked.id and %s
                            returning picked.old_status, %s
                        ), hist as (
                            insert into job_state_history (job_id, from_status, to_status, attempt, worker_id, reason,
                                                           occurred_at)
                            select id, old_status, 'QUEUED', attempt, :worker, :reason, now() from upd
                        )
                        select * from upd""".formatted(
                                which,
                                JobTransitions.sourcesOf(JobStatus.QUEUED) + ", 'QUEUED'",
                                LEASE_VALID,
                                JobRows.columns("job")))
                .param("worker", worker)
                .param("id", jobId)
                .param("attempt", attempt)
                .param("reason", reason)
                .param("holder", lease.holder())
                .param("epoch", lease.epoch())
                .query((rs, i) -> new JobRowWithOld(JobStatus.valueOf(rs.getString("old_status")), rows.mapRow(rs, i)))
                .list();
        for (JobRowWithOld c : changed) {
            events.publishEvent(new JobChanged(c.row(), c.old(), null));
        }
        return changed.stream().map(JobRowWithOld::row).toList();
    }

    private record JobRowWithOld(JobStatus old, JobRow row) {}

    /**
     * Promotes {@code low} jobs that have waited longer than {@code maxWait} to {@code normal} (at most
     * {@code limit} per call, oldest first); returns how many.
     */
    public int promoteWaitingLowPriority(Duration maxWait, int limit, Lease lease) {
        List<JobRow> promoted = jdbc.sql("""
                        with picked as (
                            select id from job
                            where status = 'QUEUED' and priority = 2
                              and created_at < now() - make_interval(secs => :wait)
                            order by created_at
                            limit :limit
                            for update skip locked
                        ), upd as (
                            update job set priority = 1, version = job.version + 1
                            from picked
                            where job.id = picked.id and job.status = 'QUEUED' and %s
                            returning %s
                        )
                        select * from upd""".formatted(LEASE_VALID, JobRows.columns("job")))
                .param("wait", (double) maxWait.toMillis() / 1000)
                .param("limit", limit)
                .param("holder", lease.holder())
                .param("epoch", lease.epoch())
                .query(rows)
                .list();
        for (JobRow row : promoted) {
            events.publishEvent(new JobChanged(row, JobStatus.QUEUED, null));
        }
        return promoted.size();
    }
}
