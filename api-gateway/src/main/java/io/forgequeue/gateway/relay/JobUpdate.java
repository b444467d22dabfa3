package io.forgequeue.gateway.relay;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import io.forgequeue.gateway.job.JobView;
import io.forgequeue.model.JobStatus;
import java.time.Instant;
import java.util.UUID;

/**
 * The gateway-defined "job update" on routing key {@code relay.update}: a change merged into PostgreSQL by one
 * gateway, for every gateway to push to its WebSocket clients. Carries no image bytes (only links).
 *
 * @param ownerKeyId     the job's API key id, to route to "all my jobs" subscribers (never sent to clients)
 * @param previousStatus status before the change, null for a new job
 * @param queueMoved     whether the job left or re-entered the queue of its pool (positions of others changed)
 * @param job            the job after the change
 * @param changedAt      when the gateway that made the change announced it, right after its commit (WebSocket
 *                       delivery lag is measured from it); null from gateways that do not send it
 */
@JsonIgnoreProperties(ignoreUnknown = true)
record JobUpdate(UUID ownerKeyId, JobStatus previousStatus, boolean queueMoved, JobView job, Instant changedAt) {

    static final String ROUTING_KEY = "relay.update";
}
