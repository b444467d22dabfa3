package io.forgequeue.model;

import java.util.Locale;

/**
 * Kinds of {@link JobEvent}, each with the job status it implies and its routing key on
 * {@link Topology#EVENTS_EXCHANGE}.
 */
public enum EventType {

    /** A worker took the job and is about to call Forge. */
    RUNNING(JobStatus.RUNNING),
    /** Sampling progress (throttled). */
    PROGRESS(JobStatus.RUNNING),
    /** Still alive, sent every few seconds while running so stuck can be told from slow. */
    HEARTBEAT(JobStatus.RUNNING),
    /** Finished with images. */
    SUCCEEDED(JobStatus.SUCCEEDED),
    /** Finished without images. */
    FAILED(JobStatus.FAILED),
    /** Stopped on its owner's request. */
    CANCELLED(JobStatus.CANCELLED),
    /** Given back to the queue (breaker open, shutdown); another attempt follows. */
    REQUEUED(JobStatus.QUEUED);

    private final JobStatus impliedStatus;
    private final String routingKey;

    EventType(JobStatus impliedStatus) {
        this.impliedStatus = impliedStatus;
        this.routingKey = "job." + name().toLowerCase(Locale.ROOT);
    }

    /** The status a job has once this event is applied. */
    public JobStatus impliedStatus() {
        return impliedStatus;
    }

    /** Routing key on {@link Topology#EVENTS_EXCHANGE}, e.g. {@code job.succeeded}. */
    public String routingKey() {
        return routingKey;
    }
}
