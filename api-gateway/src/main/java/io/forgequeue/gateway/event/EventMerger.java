package io.forgequeue.gateway.event;

import io.forgequeue.gateway.apikey.KeyNames;
import io.forgequeue.gateway.job.ImageInfo;
import io.forgequeue.gateway.job.JobChanged;
import io.forgequeue.gateway.job.JobRow;
import io.forgequeue.gateway.job.JobRows;
import io.forgequeue.gateway.job.RedundantAttempt;
import io.forgequeue.gateway.queue.QueueStats;
import io.forgequeue.gateway.quota.QuotaProperties;
import io.forgequeue.gateway.system.DbTime;
import io.forgequeue.gateway.system.GatewayMetrics;
import io.forgequeue.gateway.system.KeyMetrics;
import io.forgequeue.gateway.system.SqlArrays;
import io.forgequeue.gateway.system.WireJson;
import io.forgequeue.model.EventType;
import io.forgequeue.model.GeneratedImage;
import io.forgequeue.model.JobCancelled;
import io.forgequeue.model.JobEvent;
import io.forgequeue.model.JobFailed;
import io.forgequeue.model.JobProgressed;
import io.forgequeue.model.JobRequeued;
import io.forgequeue.model.JobStarted;
import io.forgequeue.model.JobStatus;
import io.forgequeue.model.JobSucceeded;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;
import org.springframework.transaction.support.TransactionTemplate;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Types;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Merges one status event into its job ({@link MergeStatement}, which also stores the images of a SUCCEEDED
 * event), counts the outcome, and announces the change ({@link JobChanged}) so that every gateway's
 * WebSocket clients see it. Thread-safe; concurrent merges of one job serialise on its row lock.
 */
@Component
class EventMerger {

    private static final Logger log = LoggerFactory.getLogger(EventMerger.class);

    private final JdbcClient jdbc;
    private final JobRows rows;
    private final WireJson json;
    private final GatewayMetrics metrics;
    private final KeyMetrics keyMetrics;
    private final KeyNames keyNames;
    private final ApplicationEventPublisher events;
    private final TransactionTemplate tx;
    private final double defaultWeight;
    private final QueueStats stats;

    EventMerger(JdbcClient jdbc, JobRows rows, WireJson json, GatewayMetrics metrics, KeyMetrics keyMetrics,
                KeyNames keyNames, ApplicationEventPublisher events, TransactionTemplate tx, QuotaProperties quotas,
                QueueStats stats) {
        this.jdbc = jdbc;
        this.rows = rows;
        this.json = json;
        this.metrics = metrics;
        this.keyMetrics = keyMetrics;
        this.keyNames = keyNames;
        this.events = events;
        this.tx = tx;
        this.defaultWeight = quotas.weight();
        this.stats = stats;
    }

    /** What became of an event. */
    enum Outcome {
        /** Moved the job forward. */
        APPLIED,
        /** An older event of the current attempt that filled in facts (metadata, start time, progress). */
        LATE,
        /** Already applied, or older and adding nothing. */
        DUPLICATE,
        /** The job is finished; nothing changes it any more. */
        TERMINAL,
        /** From an attempt older than the job's current one. */
        STALE_ATTEMPT,
        /** From the job's current attempt, but sent by a worker that no longer holds it (taken back). */
        REVOKED,
        /** From an attempt the scheduler never handed out (above the job's current one). */
        UNKNOWN_ASSIGNMENT,
        /** The transition table forbids the move. */
        ILLEGAL_TRANSITION,
        /** No such job. */
        UNKNOWN_JOB,
        /**
         * Names the job's current assignment, but its publisher ({@code user_id}) is not the broker user of the
         * assigned worker: another worker's credential (or none) tried to report for it.
         */
        WRONG_PUBLISHER;

        String tag() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }
    }

    record Result(Outcome outcome, JobStatus previousStatus, int previousAttempt, JobRow row) {
    }

    /** An event as consumed: the event and its publisher, the broker user that sent it ({@code user_id}, or null). */
    record Published(JobEvent event, String publisher) {
    }

    /** Merges an event without a publisher ({@link #merge(JobEvent, String)}). */
    Result merge(JobEvent event) {
        return merge(event, null);
    }

    /**
     * Merges the event with one statement (autocommit: the job row, its history and its images commit together).
     * {@code publisher} is the broker user that published it (its {@code user_id}), or null.
     */
    Result merge(JobEvent event, String publisher) {
        Result result = run(event, publisher);
        record(event, result);
        return result;
    }

    /**
     * Merges one or more events in one transaction, each with the same guarded statement as {@link #merge}, in the
     * order given (callers sort them by job, so concurrent batches lock rows in the same order). Nothing is counted
     * or announced before the commit; if any statement fails, nothing of the batch is applied and the exception is
     * thrown.
     */
    List<Result> mergeAll(List<Published> batch) {
        List<Result> results = tx.execute(status -> {
            // PostgreSQL re-plans the merge for every execution otherwise: its cost model prefers custom plans for
            // this statement, and planning it costs more than running it (pg_stat_statements.track_planning shows
            // it; docs/decisions/0003). The generic plan is the same index lookup of one job.
            jdbc.sql("set local plan_cache_mode = force_generic_plan").update();
            List<Result> out = new ArrayList<>(batch.size());
            for (Published p : batch) {
                out.add(run(p.event(), p.publisher()));
            }
            return out;
        });
        for (int i = 0; i < batch.size(); i++) {
            try {
                record(batch.get(i).event(), results.get(i));
            } catch (RuntimeException e) {
                // committed already: a failure to count or announce one event must not make the caller merge the
                // batch again (the merges would be no-ops, and the others' announcements would be lost)
                log.warn("Job(id={}) event {} merged but not announced: {}", batch.get(i).event().jobId(),
                        batch.get(i).event().type(), e.toString());
            }
        }
        return results;
    }

    private Result run(JobEvent event, String publisher) {
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
            infos.add(new ImageInfo(image.index(), image.mimeType(), image.width(), image.height(), image.seed(),
                    etag[i], image.data().length));
        }
        Optional<Result> result = jdbc.sql(MergeStatement.SQL)
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
                .param("weight", defaultWeight)
                .param("rates", stats.rateTable())
                .param("publisher", publisher, Types.VARCHAR)
                .param("img_idx", SqlArrays.typed("integer", idx))
                .param("img_mime", SqlArrays.typed("text", mime))
                .param("img_width", SqlArrays.typed("integer", width))
                .param("img_height", SqlArrays.typed("integer", height))
                .param("img_seed", SqlArrays.typed("bigint", seed))
                .param("img_etag", SqlArrays.typed("text", etag))
                .param("img_data", SqlArrays.typed("bytea", data))
                .query((rs, i) -> {
                    JobStatus old = JobStatus.valueOf(rs.getString("old_status"));
                    int oldAttempt = rs.getInt("old_attempt");
                    if (rs.getObject("id") != null) {
                        return new Result(rs.getBoolean("fresh") ? Outcome.APPLIED : Outcome.LATE, old, oldAttempt,
                                rows.mapRow(rs, i));
                    }
                    if (rs.getBoolean("assignment") && !rs.getBoolean("publisher_ok")) {
                        return new Result(Outcome.WRONG_PUBLISHER, old, oldAttempt, null);
                    }
                    return new Result(rejection(event, old, oldAttempt, rs.getBoolean("late"), rs.getBoolean("current")),
                            old, oldAttempt, null);
                })
                .optional();
        return result.orElseGet(() -> new Result(Outcome.UNKNOWN_JOB, null, 0, null));
    }

    static Outcome rejection(JobEvent event, JobStatus old, int oldAttempt, boolean late, boolean current) {
        if (late) {
            return Outcome.DUPLICATE;
        }
        if (event.attempt() < oldAttempt) {
            return Outcome.STALE_ATTEMPT;
        }
        if (event.attempt() > oldAttempt) {
            return Outcome.UNKNOWN_ASSIGNMENT;
        }
        if (old.isTerminal()) {
            return Outcome.TERMINAL;
        }
        if (!current) {
            return Outcome.REVOKED;
        }
        return Outcome.ILLEGAL_TRANSITION;
    }

    private void record(JobEvent event, Result result) {
        switch (result.outcome()) {
            case APPLIED, LATE -> metrics.eventMerged(result.outcome().tag());
            default -> {
                metrics.eventRejected(result.outcome().tag());
                if (result.outcome() == Outcome.ILLEGAL_TRANSITION || result.outcome() == Outcome.UNKNOWN_JOB
                        || result.outcome() == Outcome.UNKNOWN_ASSIGNMENT
                        || result.outcome() == Outcome.WRONG_PUBLISHER) {
                    log.warn("Job(id={}) event {} (attempt {}, seq {}) rejected: {}", event.jobId(), event.type(),
                            event.attempt(), event.seq(), result.outcome().tag());
                } else {
                    log.debug("Job(id={}) event {} (attempt {}, seq {}) ignored: {}", event.jobId(), event.type(),
                            event.attempt(), event.seq(), result.outcome().tag());
                }
                if ((result.outcome() == Outcome.TERMINAL || result.outcome() == Outcome.REVOKED
                        || result.outcome() == Outcome.STALE_ATTEMPT) && event.type() == EventType.RUNNING) {
                    // an attempt that is no longer the worker's started anyway (taken back while the worker was
                    // frozen, or the job ended meanwhile): nobody will see its result, so stop the GPU
                    events.publishEvent(new RedundantAttempt(event.jobId(), event.attempt(), event.workerId()));
                }
                return;
            }
        }
        JobRow row = result.row();
        JobStatus previous = result.previousStatus();
        if (result.outcome() == Outcome.APPLIED && previous != row.status()) {
            log.debug("Job(id={}) {} -> {} (attempt {})", row.id(), previous, row.status(), row.attempt());
            if (previous == JobStatus.QUEUED && row.status() == JobStatus.RUNNING && row.startedAt() != null) {
                metrics.queueWait(row.pool(), Duration.between(row.createdAt(), row.startedAt()));
            }
            if (previous == JobStatus.RUNNING && row.status() == JobStatus.QUEUED) {
                metrics.jobRequeued(row.pool());
            }
            if (row.status().isTerminal()) {
                metrics.jobFinished(row.status(), row.pool(), row.errorCode());
                if (row.startedAt() != null && row.finishedAt() != null) {
                    Duration gpu = Duration.between(row.startedAt(), row.finishedAt());
                    metrics.runTime(row.pool(), gpu);
                    keyMetrics.gpuTime(keyNames.nameOf(row.ownerKeyId()), gpu);
                }
                // the worker and the error code are for operators: clients see neither the worker nor its details
                if (row.status() == JobStatus.FAILED) {
                    log.info("Job(id={}) FAILED after attempt {} on worker {}: {}", row.id(), row.attempt(),
                            row.workerId(), row.errorCode());
                } else {
                    log.info("Job(id={}) {} after attempt {} on worker {}", row.id(), row.status(), row.attempt(),
                            row.workerId());
                }
            }
        }
        // A heartbeat of a job already running in this attempt changes nothing a client sees: no relay update.
        boolean invisible = event.type() == EventType.HEARTBEAT && previous == JobStatus.RUNNING
                && row.status() == JobStatus.RUNNING && result.previousAttempt() == row.attempt();
        if (!invisible) {
            events.publishEvent(new JobChanged(row, previous, null));
        }
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
