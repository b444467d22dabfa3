package io.forgequeue.gateway.schedule;

import io.forgequeue.gateway.queue.JobState;
import java.util.Comparator;

/**
 * How the scheduler orders waiting jobs and which of them a worker with a free slot gets. Every policy runs through
 * the same dispatcher; only the order and the {@link Placement} rule differ, so they can be compared side by side.
 */
public enum SchedulerPolicy {

    /** Submission order, the first job to any worker: what round 1's broker queue did. No priorities, no fairness. */
    FIFO(Order.TICKET, Placement.FIRST),
    /** Submission order with SwarmUI's model affinity (loaded model first, else the model under most pressure). */
    SWARMUI(Order.TICKET, Placement.SWARMUI),
    /** Priority and fair share with InvokeAI's affinity (swap for a warm job of the same key and priority). */
    INVOKEAI(Order.FAIR, Placement.INVOKEAI),
    /** Priority and fair share with cost-aware placement from measured load times (ours; the default). */
    FAIR(Order.FAIR, Placement.COST_AWARE);

    private final Order order;
    private final Placement placement;

    SchedulerPolicy(Order order, Placement placement) {
        this.order = order;
        this.placement = placement;
    }

    /** The order of waiting jobs: a total order (ties end on the unique ticket). */
    public Comparator<JobState> order() {
        return order.comparator;
    }

    /** Whether priority classes (and their promotion by age) apply. */
    boolean usesPriorities() {
        return order == Order.FAIR;
    }

    /** Whether a worker may take a job out of the order for the checkpoint it holds (every rule but the first). */
    boolean placesByCheckpoint() {
        return placement != Placement.FIRST;
    }

    Placement placement() {
        return placement;
    }

    private enum Order {
        TICKET(Comparator.comparingLong(JobState::ticket)),
        FAIR(Comparator.comparingInt(JobState::priority)
                .thenComparingDouble(JobState::tag)
                .thenComparingLong(JobState::ticket));

        private final Comparator<JobState> comparator;

        Order(Comparator<JobState> comparator) {
            this.comparator = comparator;
        }
    }
}
