package io.forgequeue.gateway.outbox;

import io.forgequeue.model.CancelJobCommand;
import io.forgequeue.model.JobMessage;

/**
 * An outbox entry this instance has claimed and is about to publish. Exactly one of {@code job} and
 * {@code cancel} is set.
 *
 * @param attempts how many times the entry was claimed (1 for the first publication)
 */
record OutboxEntry(long id, int attempts, JobMessage job, CancelJobCommand cancel) {

    String kind() {
        return job != null ? "job" : "cancel";
    }
}
