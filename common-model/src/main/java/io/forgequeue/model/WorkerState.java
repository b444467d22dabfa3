package io.forgequeue.model;

import com.fasterxml.jackson.annotation.JsonEnumDefaultValue;

/** What a worker says about itself in its {@link WorkerStatus}. */
public enum WorkerState {

    /** Connected, its Forge answers: it takes jobs. */
    READY,
    /** Its Forge is unreachable (circuit breaker open): it takes no job until Forge answers again. */
    PAUSED,
    /** Shutting down: it finishes or gives back the job it runs and takes no other. */
    DRAINING,
    /** Stopped (its last status). */
    GONE,
    /** A state this reader does not know (sent by a newer worker); treated as not available. */
    @JsonEnumDefaultValue
    UNKNOWN;

    /** Whether the scheduler may hand the worker a job. */
    public boolean takesJobs() {
        return this == READY;
    }
}
