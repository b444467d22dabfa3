package io.forgequeue.model;

import com.fasterxml.jackson.annotation.JsonEnumDefaultValue;

/**
 * Stable codes of the failures a user can see, each with a default message a person understands.
 * Codes are part of the public API (clients branch on them): never rename one, only add.
 */
public enum ErrorCode {

    /** Forge did not answer within the per-call timeout (a txt2img that outlasts it is not retried). */
    FORGE_TIMEOUT("The image server did not answer in time. Please try again.", true),
    /** Forge could not be reached (connection refused, reset) after retries. */
    FORGE_UNAVAILABLE("The image server could not be reached. Please try again later.", true),
    /** Forge ran out of GPU memory. */
    FORGE_OUT_OF_MEMORY("The image server ran out of GPU memory. Try a smaller size or fewer images.", true),
    /** Forge refused the request as invalid (HTTP 422), for example an unknown script. */
    FORGE_REJECTED("The image server rejected the job's settings.", false),
    /** Forge refused the worker's credentials (HTTP 401): an operator has to fix the worker. */
    FORGE_AUTH(
            "The image server refused the worker's credentials. An operator has to fix the worker's configuration.",
            false),
    /** Forge answered 404 on its API: it was probably started without {@code --api}. */
    FORGE_API_MISSING("The image server does not offer its API (it may have been started without --api).", false),
    /** Forge failed while generating (HTTP 500 other than out of memory, or an unreadable answer). */
    FORGE_ERROR("The image server failed while generating the image.", true),
    /** Forge answered but returned no image. */
    NO_IMAGES("The image server finished but returned no image.", true),
    /** The job's settings break the limits of {@link JobSpec}. */
    INVALID_SPEC("The job's settings are not valid.", false),
    /** The job was delivered to workers too many times without finishing. */
    TOO_MANY_ATTEMPTS("The job was started several times without finishing, so it was stopped.", false),
    /** A running job sent no event for longer than the stuck-job threshold. */
    JOB_STUCK("The job stopped reporting progress and was given up. Please try again.", true),
    /** The job could not be handed to the queue. */
    DISPATCH_FAILED("The job could not be queued. Please try again.", true),
    /**
     * The image server generated with another checkpoint than the job asked for (Forge silently runs its current
     * model when a per-request override names one it cannot load), also after the worker asked it to load the
     * requested one and tried again. No image of the wrong model is delivered.
     */
    MODEL_MISMATCH("The GPU server used a different model than the one requested.", true),
    /**
     * The job's images add up to more bytes than one outcome event may carry to the gateway (the worker's
     * {@code worker.outcome.max-image-bytes}, below the broker's message size limit). Running it again would give
     * the same, so it is not retried; fewer images per job or a smaller size fit.
     */
    IMAGES_TOO_LARGE(
            "The generated images are too large to deliver. Try fewer images per job or a smaller size.", false),
    /** An unexpected error inside the worker. */
    WORKER_ERROR("An unexpected error occurred while running the job.", true),
    /** A code this reader does not know (sent by a newer version). */
    @JsonEnumDefaultValue
    UNKNOWN("The job failed.", false);

    private final String defaultMessage;
    private final boolean retryable;

    ErrorCode(String defaultMessage, boolean retryable) {
        this.defaultMessage = defaultMessage;
        this.retryable = retryable;
    }

    /** A message for a person, used when the failure carries no more precise one. */
    public String defaultMessage() {
        return defaultMessage;
    }

    /** Whether submitting the same job again may succeed. */
    public boolean retryable() {
        return retryable;
    }
}
