package io.forgequeue.gateway.outbox;

import io.forgequeue.model.CancelJobCommand;

/**
 * An outbox entry this instance has claimed and is about to publish: a cancel command, or null when there is
 * nothing to publish any more (an entry written by an older version for a job message).
 *
 * @param attempts how many times the entry was claimed (1 for the first publication)
 */
record OutboxEntry(long id, int attempts, CancelJobCommand cancel) {

    String kind() {
        return "cancel";
    }
}
