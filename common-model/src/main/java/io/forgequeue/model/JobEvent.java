package io.forgequeue.model;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import java.time.Instant;
import java.util.UUID;

/**
 * A fact about a job reported by the worker running it (worker to {@link Topology#EVENTS_EXCHANGE}, routing
 * key {@link EventType#routingKey()}, merged by a gateway from {@link Topology#PERSIST_QUEUE}).
 *
 * <p>Events may arrive twice, late or out of order. The merge orders them by {@link #attempt()} and then by
 * {@link #seq()}: an event of an older attempt than the job's current one, or with a sequence number not
 * above the last applied one of the same attempt, changes nothing. On the wire the JSON property
 * {@code type} names the kind ({@link EventType} constant name).
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, include = JsonTypeInfo.As.PROPERTY, property = "type")
@JsonSubTypes({
    @JsonSubTypes.Type(value = JobStarted.class, name = "RUNNING"),
    @JsonSubTypes.Type(value = JobProgressed.class, name = "PROGRESS"),
    @JsonSubTypes.Type(value = JobHeartbeat.class, name = "HEARTBEAT"),
    @JsonSubTypes.Type(value = JobSucceeded.class, name = "SUCCEEDED"),
    @JsonSubTypes.Type(value = JobFailed.class, name = "FAILED"),
    @JsonSubTypes.Type(value = JobCancelled.class, name = "CANCELLED"),
    @JsonSubTypes.Type(value = JobRequeued.class, name = "REQUEUED")
})
public sealed interface JobEvent
        permits JobStarted, JobProgressed, JobHeartbeat, JobSucceeded, JobFailed, JobCancelled, JobRequeued {

    /** The job this event is about; never null. */
    UUID jobId();

    /** Attempt number, from 1: one more than the broker's delivery count of the job message. */
    int attempt();

    /** Id of the worker that sent the event; never null. */
    String workerId();

    /** Sequence number within the attempt, from 1, increasing by one per event the worker sends. */
    long seq();

    /** When the worker observed the fact; never null. */
    Instant occurredAt();

    /** The kind of event (not a JSON property of its own: it is the {@code type} discriminator). */
    EventType type();

    /** Routing key on {@link Topology#EVENTS_EXCHANGE}. */
    default String routingKey() {
        return type().routingKey();
    }
}
