package io.forgequeue.worker.forge;

import java.time.Duration;

/**
 * Forge stayed busy with another client's job (a person in its web UI, another API client) for longer than
 * {@code worker.forge.busy-timeout}, so the worker did not send its txt2img: the job is given back, not failed.
 */
public class ForgeBusyException extends RuntimeException {

    private final Duration waited;

    ForgeBusyException(Duration waited) {
        super("Forge was busy with another client's job for " + waited.toMillis() + " ms", null, false, false);
        this.waited = waited;
    }

    /** How long the worker waited for Forge to become idle. */
    public Duration waited() {
        return waited;
    }
}
