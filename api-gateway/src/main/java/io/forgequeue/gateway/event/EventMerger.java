package io.forgequeue.gateway.event;

import io.forgequeue.gateway.apikey.KeyNames;
import io.forgequeue.gateway.job.EventMoves;
import io.forgequeue.gateway.job.JobChanged;
import io.forgequeue.gateway.job.JobRow;
import io.forgequeue.gateway.job.RedundantAttempt;
import io.forgequeue.gateway.queue.QueueStats;
import io.forgequeue.gateway.quota.QuotaProperties;
import io.forgequeue.gateway.system.GatewayMetrics;
import io.forgequeue.gateway.system.KeyMetrics;
import io.forgequeue.model.EventType;
import io.forgequeue.model.JobEvent;
import io.forgequeue.model.JobStatus;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.stereotype.Component;

/**
 * Merges one status event into its job (through the job package's {@link EventMoves}, which also stores the images
 * of a SUCCEEDED event), names what became of it, counts the outcome, and announces the change ({@link JobChanged})
 * so that every gateway's WebSocket clients see it. Thread-safe; concurrent merges of one job serialise on its row
 * lock.
 */
@Component
class EventMerger {

    private static final Logger log = LoggerFactory.getLogger(EventMerger.class);

    private final EventMoves moves;
    private final GatewayMetrics metrics;
    private final KeyMetrics keyMetrics;
    private final KeyNames keyNames;
    private final ApplicationEventPublisher events;
    private final double defaultWeight;
    private final QueueStats stats;

    EventMerger(
            EventMoves moves,
            GatewayMetrics metrics,
            KeyMetrics keyMetrics,
            KeyNames keyNames,
            ApplicationEventPublisher events,
            QuotaProperties quotas,
            QueueStats stats) {
        this.moves = moves;
        this.metrics = metrics;
        this.keyMetrics = keyMetrics;
        this.keyNames = keyNames;
        this.events = events;
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

    record Result(Outcome outcome, JobStatus previousStatus, int previousAttempt, JobRow row) {}

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
    List<Result> mergeAll(List<EventMoves.Published> batch) {
        List<Optional<EventMoves.Merged>> merged = moves.mergeAll(batch, fairShare());
        List<Result> results = new ArrayList<>(batch.size());
        for (int i = 0; i < batch.size(); i++) {
            JobEvent event = batch.get(i).event();
            results.add(merged.get(i)
                    .map(m -> result(event, m))
                    .orElseGet(() -> new Result(Outcome.UNKNOWN_JOB, null, 0, null)));
        }
        for (int i = 0; i < batch.size(); i++) {
            try {
                record(batch.get(i).event(), results.get(i));
            } catch (RuntimeException e) {
                // committed already: a failure to count or announce one event must not make the caller merge the
                // batch again (the merges would be no-ops, and the others' announcements would be lost)
                log.warn(
                        "Job(id={}) event {} merged but not announced: {}",
                        batch.get(i).event().jobId(),
                        batch.get(i).event().type(),
                        e.toString());
            }
        }
        return results;
    }

    private Result run(JobEvent event, String publisher) {
        return moves.merge(event, publisher, fairShare())
                .map(m -> result(event, m))
                .orElseGet(() -> new Result(Outcome.UNKNOWN_JOB, null, 0, null));
    }

    private EventMoves.FairShare fairShare() {
        return new EventMoves.FairShare(defaultWeight, stats.rateTable());
    }

    private static Result result(JobEvent event, EventMoves.Merged m) {
        if (m.row() != null) {
            return new Result(m.fresh() ? Outcome.APPLIED : Outcome.LATE, m.oldStatus(), m.oldAttempt(), m.row());
        }
        if (m.wrongPublisher()) {
            return new Result(Outcome.WRONG_PUBLISHER, m.oldStatus(), m.oldAttempt(), null);
        }
        return new Result(
                rejection(event, m.oldStatus(), m.oldAttempt(), m.late(), m.current()),
                m.oldStatus(),
                m.oldAttempt(),
                null);
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
                if (result.outcome() == Outcome.ILLEGAL_TRANSITION
                        || result.outcome() == Outcome.UNKNOWN_JOB
                        || result.outcome() == Outcome.UNKNOWN_ASSIGNMENT
                        || result.outcome() == Outcome.WRONG_PUBLISHER) {
                    log.warn(
                            "Job(id={}) event {} (attempt {}, seq {}) rejected: {}",
                            event.jobId(),
                            event.type(),
                            event.attempt(),
                            event.seq(),
                            result.outcome().tag());
                } else {
                    log.debug(
                            "Job(id={}) event {} (attempt {}, seq {}) ignored: {}",
                            event.jobId(),
                            event.type(),
                            event.attempt(),
                            event.seq(),
                            result.outcome().tag());
                }
                if ((result.outcome() == Outcome.TERMINAL
                                || result.outcome() == Outcome.REVOKED
                                || result.outcome() == Outcome.STALE_ATTEMPT)
                        && event.type() == EventType.RUNNING) {
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
                    log.info(
                            "Job(id={}) FAILED after attempt {} on worker {}: {}",
                            row.id(),
                            row.attempt(),
                            row.workerId(),
                            row.errorCode());
                } else {
                    log.info(
                            "Job(id={}) {} after attempt {} on worker {}",
                            row.id(),
                            row.status(),
                            row.attempt(),
                            row.workerId());
                }
            }
        }
        // A heartbeat of a job already running in this attempt changes nothing a client sees: no relay update.
        boolean invisible = event.type() == EventType.HEARTBEAT
                && previous == JobStatus.RUNNING
                && row.status() == JobStatus.RUNNING
                && result.previousAttempt() == row.attempt();
        if (!invisible) {
            events.publishEvent(new JobChanged(row, previous, null));
        }
    }
}
