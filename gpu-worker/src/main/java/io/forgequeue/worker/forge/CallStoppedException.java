package io.forgequeue.worker.forge;

/** A txt2img attempt was not started because its job is being cancelled or given back. */
public class CallStoppedException extends RuntimeException {

    CallStoppedException() {
        super("The job was stopped before Forge was called", null, false, false);
    }
}
