package io.forgequeue.model;

import java.util.Collections;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

/**
 * The state of a job, and the one table of moves between states.
 *
 * <pre>
 * QUEUED  -&gt; RUNNING | SUCCEEDED | FAILED | CANCELLED
 * RUNNING -&gt; QUEUED (given back) | SUCCEEDED | FAILED | CANCELLED
 * SUCCEEDED, FAILED, CANCELLED: terminal, never change
 * </pre>
 *
 * {@code QUEUED -> SUCCEEDED} and {@code QUEUED -> FAILED} are allowed because status events may be
 * merged out of order by several gateways (the outcome can be merged before the start), and because a
 * worker may fail a job it never started (an impossible spec, too many deliveries). Staying in the same
 * state is not a move: it is for the merge to decide whether such an event changes anything.
 */
public enum JobStatus {

    /** Waiting in the job queue of its pool. */
    QUEUED,
    /** A worker is generating it. */
    RUNNING,
    /** Finished with images. Terminal. */
    SUCCEEDED,
    /** Finished without images; the job carries an {@link ErrorCode} and a message. Terminal. */
    FAILED,
    /** Cancelled by its owner. Terminal. */
    CANCELLED;

    private static final Map<JobStatus, Set<JobStatus>> ALLOWED;

    static {
        Map<JobStatus, Set<JobStatus>> allowed = new EnumMap<>(JobStatus.class);
        allowed.put(QUEUED, Collections.unmodifiableSet(EnumSet.of(RUNNING, SUCCEEDED, FAILED, CANCELLED)));
        allowed.put(RUNNING, Collections.unmodifiableSet(EnumSet.of(QUEUED, SUCCEEDED, FAILED, CANCELLED)));
        allowed.put(SUCCEEDED, Collections.unmodifiableSet(EnumSet.noneOf(JobStatus.class)));
        allowed.put(FAILED, Collections.unmodifiableSet(EnumSet.noneOf(JobStatus.class)));
        allowed.put(CANCELLED, Collections.unmodifiableSet(EnumSet.noneOf(JobStatus.class)));
        ALLOWED = Collections.unmodifiableMap(allowed);
    }

    /** Whether the job can never change again. */
    public boolean isTerminal() {
        return this == SUCCEEDED || this == FAILED || this == CANCELLED;
    }

    /** The states this one may move to (empty for terminal states). */
    public Set<JobStatus> allowedTargets() {
        return ALLOWED.get(this);
    }

    /** Whether the table allows moving from this state to {@code target}. */
    public boolean canMoveTo(JobStatus target) {
        return ALLOWED.get(this).contains(target);
    }

    /**
     * Checks a move against the table.
     *
     * @return {@code target}, for chaining
     * @throws IllegalJobTransitionException when the table forbids the move
     */
    public JobStatus moveTo(JobStatus target) {
        if (!canMoveTo(target)) {
            throw new IllegalJobTransitionException(this, target);
        }
        return target;
    }
}
