package io.forgequeue.gateway.job;

import io.forgequeue.gateway.system.DbTime;
import io.forgequeue.gateway.system.SqlArrays;
import io.forgequeue.gateway.system.WireJson;
import io.forgequeue.model.GeneratedImage;
import io.forgequeue.model.JobCancelled;
import io.forgequeue.model.JobEvent;
import io.forgequeue.model.JobFailed;
import io.forgequeue.model.JobProgressed;
import io.forgequeue.model.JobRequeued;
import io.forgequeue.model.JobStarted;
import io.forgequeue.model.JobStatus;
import io.forgequeue.model.JobSucceeded;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Types;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

/**
 * The moves a worker's status event makes: applies one event to its job with {@link MergeStatement} (the job row,
 * its history row, the images of a SUCCEEDED event and the key's fair-share correction together), alone or as a
 * batch in one transaction. Says what the statement found; what that means (counting, announcing) is the caller's.
 * Thread-safe; concurrent merges of one job serialise on its row lock.
 */
@Component
public class EventMoves {

    private final JdbcClient jdbc;
    private final JobRows rows;
    private final WireJson json;
    private final FlushedCommits commits;

    EventMoves(JdbcClient jdbc, JobRows rows, WireJson json, FlushedCommits commits) {
        this.jdbc = jdbc;
        this.rows = rows;
        this.json = json;
        this.commits = commits;
    }

    /**
     * What the statement found and did for one event.
     *
     * @param oldStatus  the job's status before the event
     * @param oldAttempt the job's attempt before the event
     * @param fresh      the event moved the job forward
     * @param late       an event of the current assignment with a sequence number already applied
     * @param current    the event belongs to the job's current assignment (attempt and worker) and was published
     *                   by that assignment's broker user
     * @param wrongPublisher the event names the current assignment but its publisher is not the broker user of the
     *                   assigned worker ({@code job.worker_user})
     * @param row        the job after the event, or {@code null} if the event changed nothing
     */
    public record Merged(
            JobStatus oldStatus,
            int oldAttempt,
            boolean fresh,
            boolean late,
            boolean current,
            boolean wrongPublisher,
            JobRow row) {}

    /** An event as consumed, with its publisher: the broker user that sent it ({@code user_id}), or null. */
    public record Published(JobEvent event, String publisher) {}

    /** The gateway-wide inputs of the fair-share correction of a job that ends. */
    public record FairShare(double defaultWeight, String rateTable) {}

    /**
     * Applies the event (the job row, its history and its images commit together; returns once that is durable, see
     * {@link FlushedCommits}); empty: no such job. {@code publisher} is the broker user that published it
     * ({@code user_id}, validated by RabbitMQ), or null.
     */
    public Optional<Merged> merge(JobEvent event, String publisher, FairShare fairShare) {
        return commits.inTransaction(status -> run(event, publisher, fairShare));
    }

    /**
     * Applies the events in one transaction, in the order given (callers sort them by job, so concurrent batches
     * lock rows in the same order); an empty element: no such job. If any statement fails, nothing is applied and
     * the exception is thrown. Returns once the transaction is durable ({@link FlushedCommits}).
     */
    public List<Optional<Merged>> mergeAll(List<Published> batch, FairShare fairShare) {
        return commits.inTransaction(status -> {
            // PostgreSQL re-plans the merge for every execution otherwise: its cost model prefers custom plans for
            // this statement, and planning it costs more than running it (pg_stat_statements.track_planning shows
            // it; docs/decisions/0003). The generic plan is the same index lookup of one job.
            jdbc.sql("set local plan_cache_mode = force_generic_plan").update();
            List<Optional<Merged>> out = new ArrayList<>(batch.size());
            for (Published p : batch) {
                out.add(run(p.event(), p.publisher(), fairShare));
            }
            return out;
        });
    }

    private Optional<Merged> run(JobEvent event, String publisher, FairShare fairShare) {
        List<GeneratedImage> images = event instanceof JobSucceeded s ? s.images() : List.of();
        int n = images.size();
        Integer[] idx = new Integer[n];
        String[] mime = new String[n];
        Integer[] width = new Integer[n];
        Integer[] height = new Integer[n];
        Long[] seed = new Long[n];
        String[] etag = new String[n];
        byte[][] data = new byte[n][];
        List<ImageInfo> infos = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            GeneratedImage image = images.get(i);
            idx[i] = image.index();
            mime[i] = image.mimeType();
            width[i] = image.width();
            height[i] = image.height();
            seed[i] = image.seed();
            etag[i] = etag(image.data());
            data[i] = image.data();
            infos.add(new ImageInfo(
                    image.index(),
                    image.mimeType(),
                    image.width(),
                    image.height(),
                    image.seed(),
                    etag[i],
                    image.data().length));
        }
        return jdbc.sql(MergeStatement.SQL)
                .param("id", event.jobId())
                .param("attempt", event.attempt())
                .param("seq", event.seq())
                .param("implied", event.type().impliedStatus().name())
                .param("worker", event.workerId())
                .param("at", DbTime.of(event.occurredAt()))
                // Nullable parameters carry their SQL type, so every event binds the same parameter types and the
                // driver reuses the statement it prepared on the server (a null bound without a type makes it parse
                // and plan the statement again whenever the previous event had a value there, or the other way round)
                .param("progress", event instanceof JobProgressed p ? p.percent() : null, Types.INTEGER)
                .param("code", event instanceof JobFailed f ? f.code().name() : null, Types.VARCHAR)
                .param("message", event instanceof JobFailed f ? f.message() : null, Types.VARCHAR)
                .param("meta", metadataJson(event), Types.VARCHAR)
                .param("images", n == 0 ? null : json.toText(infos), Types.VARCHAR)
                .param("reason", reason(event))
                .param("weight", fairShare.defaultWeight())
                .param("rates", fairShare.rateTable())
                .param("publisher", publisher, Types.VARCHAR)
                .param("img_idx", SqlArrays.typed("integer", idx))
                .param("img_mime", SqlArrays.typed("text", mime))
                .param("img_width", SqlArrays.typed("integer", width))
                .param("img_height", SqlArrays.typed("integer", height))
                .param("img_seed", SqlArrays.typed("bigint", seed))
                .param("img_etag", SqlArrays.typed("text", etag))
                .param("img_data", SqlArrays.typed("bytea", data))
                .query((rs, i) -> new Merged(
                        JobStatus.valueOf(rs.getString("old_status")),
                        rs.getInt("old_attempt"),
                        rs.getBoolean("fresh"),
                        rs.getBoolean("late"),
                        rs.getBoolean("current"),
                        rs.getBoolean("assignment") && !rs.getBoolean("publisher_ok"),
                        rs.getObject("id") != null ? rows.mapRow(rs, i) : null))
                .optional();
    }

    private String metadataJson(JobEvent event) {
        Map<String, Object> metadata = Map.of();
        if (event instanceof JobStarted s) {
            metadata = s.metadata();
        } else if (event instanceof JobSucceeded s) {
            metadata = s.metadata();
        } else if (event instanceof JobFailed f) {
            metadata = f.metadata();
        }
        return metadata.isEmpty() ? null : json.toText(metadata);
    }

    private static String reason(JobEvent event) {
        if (event instanceof JobFailed f) {
            return f.code().name();
        }
        if (event instanceof JobRequeued r) {
            return r.reason() == null ? "requeued" : r.reason();
        }
        if (event instanceof JobCancelled c) {
            return c.reason() == null ? "cancelled" : c.reason();
        }
        return event.type().name().toLowerCase(Locale.ROOT);
    }

    static String etag(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data), 0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
