package io.forgequeue.gateway.job;

import io.forgequeue.gateway.system.GatewayMetrics;
import io.forgequeue.gateway.system.InstanceProperties;
import io.forgequeue.model.CancelJobCommand;
import io.forgequeue.model.JobStatus;
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

    private int cancelQueued(UUID keyId, String reason) {
        List<JobRepository.Cancelled> cancelled =
                jobs.cancelQueuedOf(keyId, reason, instanceId, properties.outboxLease());
        for (JobRepository.Cancelled c : cancelled) {
            JobRow row = c.row();
            events.publishEvent(new DispatchRequested(
                    c.outboxId(),
                    new CancelJobCommand(row.id(), c.outboxCreatedAt() == null ? Instant.now() : c.outboxCreatedAt())));
            metrics.jobFinished(JobStatus.CANCELLED, row.pool(), null);
            events.publishEvent(new JobChanged(row, JobStatus.QUEUED, null));
        }
        log.info("ApiKey(id={}): {} queued jobs cancelled ({})", keyId, cancelled.size(), reason);
        return cancelled.size();
    }
}
