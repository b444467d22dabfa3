package io.forgequeue.model;

/** A move between two {@link JobStatus} values that the transition table forbids. */
public class IllegalJobTransitionException extends IllegalStateException {

    private final JobStatus from;
    private final JobStatus to;

    /** Creates the exception for the move {@code from -> to}. */
    public IllegalJobTransitionException(JobStatus from, JobStatus to) {
        super("A job cannot move from " + from + " to " + to);
        this.from = from;
        this.to = to;
    }

    /** The state the job was in. */
    public JobStatus from() {
        return from;
    }

    /** The state that was refused. */
    public JobStatus to() {
        return to;
    }
}
