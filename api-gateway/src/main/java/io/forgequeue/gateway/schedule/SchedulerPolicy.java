package io.forgequeue.gateway.schedule;

import io.forgequeue.gateway.queue.JobState;

import java.util.Comparator;

/**
 * How the scheduler orders waiting jobs (and, with model-aware placement, which worker gets which). All policies
 * run through the same dispatcher; only the order and the choice differ.
 */
public enum SchedulerPolicy {

    /** Submission order only (ticket), no priority classes, no fair share: what round 1's broker queue did. */
    FIFO(Comparator.comparingLong(JobState::ticket)),
    /** Priority class, then the fair-share tag (start-time fair queuing between keys), then ticket. */
    FAIR(Comparator.comparingInt(JobState::priority).thenComparingDouble(JobState::tag)
            .thenComparingLong(JobState::ticket));

    private final Comparator<JobState> order;

    SchedulerPolicy(Comparator<JobState> order) {
        this.order = order;
    }

    /** The order of waiting jobs: a total order (ties end on the unique ticket). */
    public Comparator<JobState> order() {
        return order;
    }
}
