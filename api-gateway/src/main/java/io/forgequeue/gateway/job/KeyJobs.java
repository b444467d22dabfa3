package io.forgequeue.gateway.job;

import io.forgequeue.gateway.system.GatewayMetrics;
import io.forgequeue.gateway.system.InstanceProperties;
import io.forgequeue.model.CancelJobCommand;
import io.forgequeue.model.JobStatus;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.stereotype.Component;

/**
 * What is done to the jobs of one API key as a whole: cancel its waiting jobs when the admin API disables the key,
 * or when its owner cancels all its waiting jobs at once.
 * The move is one guarded statement of the job package (as every job state move), announced like an owner's cancel:
 * a cancel command per job through the outbox (published at once), a {@link JobChanged} per job for the WebSocket
 * clients and the metrics.
 */
@Component
public class KeyJobs {

    private static final Logger log = LoggerFactory.getLogger(KeyJobs.class);

    private final JobRepository jobs;
    private final JobProperties properties;
    private final String instanceId;
    private final ApplicationEventPublisher events;
    private final GatewayMetrics metrics;

    KeyJobs(
            JobRepository jobs,
            JobProperties properties,
            InstanceProperties instance,
            ApplicationEventPublisher events,
            GatewayMetrics metrics) {
        this.jobs = jobs;
        this.properties = properties;
        this.instanceId = instance.instanceId();
        this.events = events;
        this.metrics = metrics;
    }

    /** Cancels every QUEUED job of the key (handed to a worker or not); returns how many. Running jobs go on. */
    public int cancelQueued(UUID keyId) {
        return cancelQueued(keyId, "cancelled: its API key was disabled");
    }

    /** As {@link #cancelQueued(UUID)}, asked by the key's owner ({@code POST /api/v1/jobs/cancel-waiting}). */
    int cancelWaitingOfOwner(UUID keyId) {
        return cancelQueued(keyId, "cancelled by its owner with all its waiting jobs");
    }

    /**
     * Cancels the jobs that were QUEUED when asked (the owner may submit meanwhile: those stay). Passes skip the rows
     * another transaction holds (a batch of hand-outs that takes some of them is committing) and repeat until none
     * is left, so the statement never waits for a row while it holds others: a hand-out batch locks its rows in
     * decision order and the two would deadlock, and PostgreSQL would fail one of them. A row still held after
     * {@link #SKIP_LOCKED_FOR} is waited for (a transaction that holds a job row that long is not a hand-out).
     */
    private int cancelQueued(UUID keyId, String reason) {
        long upTo = jobs.lastQueuedTicketOf(keyId);
        if (upTo < 0) {
            log.info("ApiKey(id={}): no queued jobs to cancel ({})", keyId, reason);
            return 0;
        }
        long deadline = System.nanoTime() + SKIP_LOCKED_FOR.toNanos();
        int count = 0;
        long pauseMillis = 5;
        while (true) {
            boolean waitForLocked = System.nanoTime() - deadline > 0;
            count += announce(
                    jobs.cancelQueuedOf(keyId, upTo, !waitForLocked, reason, instanceId, properties.outboxLease()));
            if (waitForLocked || !jobs.hasQueuedOf(keyId, upTo)) {
                break;
            }
            sleep(pauseMillis); // a hand-out batch holds the rest: it commits within milliseconds
            pauseMillis = Math.min(100, pauseMillis * 2);
        }
        log.info("ApiKey(id={}): {} queued jobs cancelled ({})", keyId, count, reason);
        return count;
    }

    /** How long a cancel of a key's queued jobs passes over rows other transactions hold before it waits for them. */
    static final Duration SKIP_LOCKED_FOR = Duration.ofSeconds(10);

    private int announce(List<JobRepository.Cancelled> cancelled) {
        for (JobRepository.Cancelled c : cancelled) {
            JobRow row = c.row();
            events.publishEvent(new DispatchRequested(
                    c.outboxId(),
                    new CancelJobCommand(row.id(), c.outboxCreatedAt() == null ? Instant.now() : c.outboxCreatedAt())));
            metrics.jobFinished(JobStatus.CANCELLED, row.pool(), null);
            events.publishEvent(new JobChanged(row, JobStatus.QUEUED, null));
        }
        return cancelled.size();
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while cancelling a key's queued jobs", e);
        }
    }
}
