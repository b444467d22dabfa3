package io.forgequeue.worker.forge;

import io.forgequeue.model.ErrorCode;

/** The kinds of Forge failure the worker tells apart, and what each means for retries and the job. */
public enum ForgeFailure {

    /** Forge could not be reached: connection refused or reset, 502/503/504. Never fails a job. */
    UNAVAILABLE(ErrorCode.FORGE_UNAVAILABLE),
    /**
     * A call did not finish within its timeout: a small call within {@code poll-timeout} (retried, counted by the
     * breaker), or a txt2img answered HTTP 408. The txt2img call timeout itself is a Failsafe
     * {@code TimeoutExceededException}, neither retried nor counted (see {@code ForgeConfiguration}).
     */
    TIMEOUT(ErrorCode.FORGE_TIMEOUT),
    /**
     * The txt2img call itself ran into a timeout other than the Failsafe one: its own read timeout (a backstop
     * behind the call timeout) or a proxy's HTTP 408. About the job, like the call timeout: neither retried nor
     * counted by the breaker.
     */
    CALL_TIMEOUT(ErrorCode.FORGE_TIMEOUT),
    /** HTTP 500 (other than out of memory), a non-JSON 500 or another 5xx. Retried, then the job fails. */
    SERVER_ERROR(ErrorCode.FORGE_ERROR),
    /** HTTP 500 with {@code error: OutOfMemoryError}. Not retried (see {@code ForgeConfiguration}). */
    OUT_OF_MEMORY(ErrorCode.FORGE_OUT_OF_MEMORY),
    /** HTTP 401/403: the worker's credentials are wrong. Permanent. */
    AUTH(ErrorCode.FORGE_AUTH),
    /** HTTP 404 on /sdapi: Forge runs without --api. Permanent. */
    API_MISSING(ErrorCode.FORGE_API_MISSING),
    /** HTTP 422 or another 4xx: Forge refused the request. Permanent. */
    REJECTED(ErrorCode.FORGE_REJECTED),
    /** HTTP 200 whose body could not be read. Not retried: the same request would give the same answer. */
    BAD_RESPONSE(ErrorCode.FORGE_ERROR);

    private final ErrorCode code;

    ForgeFailure(ErrorCode code) {
        this.code = code;
    }

    /** The error code a job failed by this gets. */
    public ErrorCode code() {
        return code;
    }

    /** An outage: the job is given back to the queue, never failed. */
    public boolean isOutage() {
        return this == UNAVAILABLE;
    }

    /** A transient failure that is retried a few times before the job fails. */
    public boolean isRetriedFailure() {
        return this == SERVER_ERROR || this == TIMEOUT;
    }

    /** Counted by the circuit breaker: says something about Forge's health rather than about the job. */
    public boolean countsForBreaker() {
        return this == UNAVAILABLE || this == TIMEOUT;
    }
}
