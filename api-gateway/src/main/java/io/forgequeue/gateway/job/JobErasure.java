package io.forgequeue.gateway.job;

import io.forgequeue.model.JobStatus;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Collectors;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Erases the data of finished jobs (docs/data-retention.md), for the erase API and for the retention sweep,
 * with the same statement so that both leave the same tombstone. Erasing a job:
 * <ul>
 *   <li>deletes its images ({@code job_image}: the bytes, whose PNG text chunks also carry the prompt) and their
 *       descriptions ({@code job.images});</li>
 *   <li>replaces {@code prompt} and {@code negativePrompt} in its spec with empty strings (the other settings stay);</li>
 *   <li>keeps of its metadata only the keys of {@link #KEPT_METADATA} (numbers, model and sampler names, flags: never
 *       free text), so Forge's error text, the violations and any key a worker adds later are gone;</li>
 *   <li>drops its error message (the error code stays; a reader sees the code's default message), since Forge's
 *       error text can quote the request;</li>
 *   <li>forgets its Idempotency-Key (whose stored hash is one of the request, prompt included);</li>
 *   <li>sets {@code data_erased_at} and {@code data_erased_by}, and increases the version.</li>
 * </ul>
 * The row (id, ticket, owner, status, times, settings, error code, attempts) and its history stay: ids, tickets,
 * lists and history remain consistent, and an erased job answers like any other (no 404). Only finished jobs are
 * erased (SUCCEEDED, FAILED, CANCELLED): they never change again, so nothing writes the data back.
 */
@Component
public class JobErasure {

    /**
     * The metadata keys an erased job keeps: what the generation used and how it ran, none of them text a person
     * wrote or a server could have copied the prompt into.
     */
    static final List<String> KEPT_METADATA = List.of(
            "seed",
            "allSeeds",
            "sdModelName",
            "sdModelHash",
            "sampler",
            "scheduler",
            "steps",
            "cfgScale",
            "width",
            "height",
            "checkpointRequested",
            "checkpointUsed",
            "modelVerified",
            "pool",
            "workerVersion",
            "forgeVersion",
            "forgeMillis",
            "loadMillis",
            "loadUnsplit",
            "imagesReturned",
            "jobTimestamp",
            "httpStatus",
            "timeoutMillis",
            "maxAttempts",
            "imageBytes",
            "maxImageBytes");

    /** The {@code data_erased_by} of an erasure its owner asked for. */
    static final String OWNER_TRIGGER = "owner";
    /** The {@code data_erased_by} of an erasure of the retention sweep. */
    static final String RETENTION_TRIGGER = "retention";

    /** {@code 'SUCCEEDED', 'FAILED', 'CANCELLED'}: the terminal statuses, for {@code status in (...)}. */
    private static final String FINISHED = JobTransitions.terminal();

    /**
     * The erasure of the jobs in CTE {@code picked (id)}: CTEs {@code imgs} (the deleted images' sizes) and
     * {@code upd} (the erased rows, returning {@code %s}). The update re-checks {@code data_erased_at} on the newest
     * row version, so a job erased meanwhile by another statement is not erased twice.
     */
    private static final String ERASE = """
            imgs as (
                delete from job_image i using picked where i.job_id = picked.id
                returning octet_length(i.data) as bytes
            ), idem as (
                delete from idempotency_key k using picked where k.job_id = picked.id
            ), upd as (
                update job set
                    spec = job.spec || '{"prompt": "", "negativePrompt": ""}'::jsonb,
                    images = '[]'::jsonb,
                    metadata = (select coalesce(jsonb_object_agg(m.key, m.value), '{}'::jsonb)
                                from jsonb_each(job.metadata) m where m.key = any(%s)),
                    error_message = null,
                    data_erased_at = now(),
                    data_erased_by = :by,
                    version = job.version + 1
                from picked
                where job.id = picked.id and job.data_erased_at is null and job.status in (%s)
                returning %%s
            )""".formatted(
            KEPT_METADATA.stream().map(k -> "'" + k + "'").collect(Collectors.joining(", ", "array[", "]")), FINISHED);

    private static final String ERASE_OWNED = """
            with picked as (
                select id from job where id = :id and owner_key_id = :owner
            ), %s
            select (select count(*) from imgs) as erased_images, (select coalesce(sum(bytes), 0) from imgs) as erased_bytes,
                   upd.*
            from upd""".formatted(ERASE.formatted(JobRows.columns("job")));

    private static final String ERASE_EXPIRED = """
            with picked as (
                select id from job
                where finished_at is not null and data_erased_at is null
                  and finished_at < now() - make_interval(secs => :age)
                  and status in (%s)
                order by finished_at
                limit :limit
                for update skip locked
            ), %s
            select (select count(*) from upd) as jobs, (select count(*) from imgs) as images,
                   (select coalesce(sum(bytes), 0) from imgs) as bytes""".formatted(FINISHED, ERASE.formatted("job.id"));

    private final JdbcClient jdbc;
    private final JobRows rows;
    private final TransactionTemplate tx;

    JobErasure(JdbcClient jdbc, JobRows rows, TransactionTemplate tx) {
        this.jdbc = jdbc;
        this.rows = rows;
        this.tx = tx;
    }

    /** Data erased by one statement: jobs, their images and the images' bytes. */
    public record Erased(long jobs, long images, long bytes) {}

    /**
     * What the database holds.
     *
     * @param jobs   finished jobs that still hold their data
     * @param images result images stored
     * @param bytes  bytes of those images
     * @param due    finished jobs older than the retention time that still hold their data (0 without one)
     */
    public record Stored(long jobs, long images, long bytes, long due) {}

    /**
     * What erasing one of an owner's jobs found and did.
     *
     * @param status   the job's status (erasing happened only if it is terminal)
     * @param row      the job after the erasure (also when it had been erased before); null when it is not finished
     * @param erased   what this call erased; null when nothing (not finished, or erased before)
     */
    record Owned(JobStatus status, JobRow row, Erased erased) {}

    /**
     * Erases the data of the owner's job if it is finished and still holds them; empty when the owner has no such job.
     * Two statements in one transaction: the job row is locked first, so the erasure's snapshot sees everything
     * committed before (the images of an outcome merged just before are deleted with the rest).
     */
    Optional<Owned> eraseOwned(UUID owner, UUID id) {
        return tx.execute(status -> {
            Optional<JobRow> locked = jdbc.sql("select " + JobRows.columns("j")
                            + " from job j where j.id = :id and j.owner_key_id = :owner for update")
                    .param("id", id)
                    .param("owner", owner)
                    .query(rows)
                    .optional();
            if (locked.isEmpty()) {
                return Optional.<Owned>empty();
            }
            JobRow row = locked.get();
            if (!row.status().isTerminal()) {
                return Optional.of(new Owned(row.status(), null, null));
            }
            if (row.dataErasedAt() != null) {
                return Optional.of(new Owned(row.status(), row, null));
            }
            return Optional.of(jdbc.sql(ERASE_OWNED)
                    .param("id", id)
                    .param("owner", owner)
                    .param("by", OWNER_TRIGGER)
                    .query((rs, i) -> new Owned(
                            row.status(),
                            rows.mapRow(rs, i),
                            new Erased(1, rs.getLong("erased_images"), rs.getLong("erased_bytes"))))
                    .single());
        });
    }

    /**
     * Erases the data of at most {@code limit} jobs that finished more than {@code age} ago and still hold them,
     * oldest first, in one statement. Rows another transaction holds (another gateway's batch, a merge) are skipped,
     * so several gateways can run this at once, each erasing other jobs.
     */
    public Erased eraseFinishedBefore(Duration age, int limit) {
        return jdbc.sql(ERASE_EXPIRED)
                .param("age", seconds(age))
                .param("limit", limit)
                .param("by", RETENTION_TRIGGER)
                .query((rs, i) -> new Erased(rs.getLong("jobs"), rs.getLong("images"), rs.getLong("bytes")))
                .single();
    }

    /**
     * Counts what the database holds: a scan of the image table's rows (sizes come from the rows, not the bytes) and
     * of the index of finished jobs that still hold their data.
     *
     * @param age the retention time; zero: none (nothing is due)
     */
    public Stored stored(Duration age) {
        return jdbc.sql("""
                        select (select count(*) from job where finished_at is not null and data_erased_at is null) as jobs,
                               i.images, i.bytes,
                               case when :age <= 0 then 0 else (
                                   select count(*) from job
                                   where finished_at is not null and data_erased_at is null
                                     and finished_at < now() - make_interval(secs => :age)
                                     and status in (%s)) end as due
                        from (select count(*) as images, coalesce(sum(octet_length(data)), 0) as bytes
                              from job_image) i""".formatted(FINISHED))
                .param("age", seconds(age))
                .query((rs, i) ->
                        new Stored(rs.getLong("jobs"), rs.getLong("images"), rs.getLong("bytes"), rs.getLong("due")))
                .single();
    }

    private static double seconds(Duration d) {
        return d.toMillis() / 1000.0;
    }
}
