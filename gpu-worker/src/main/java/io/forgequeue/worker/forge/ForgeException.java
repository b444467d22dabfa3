package io.forgequeue.worker.forge;

/**
 * A failed Forge call. The message is for operators (it never contains credentials or the request body);
 * {@link #forgeError()} and {@link #forgeMessage()} carry what Forge said, when it said something.
 */
public class ForgeException extends RuntimeException {

    private final ForgeFailure failure;
    private final int httpStatus;
    private final String forgeError;
    private final String forgeMessage;
    private final boolean mayStillRun;

    ForgeException(
            ForgeFailure failure,
            int httpStatus,
            String forgeError,
            String forgeMessage,
            boolean mayStillRun,
            String message,
            Throwable cause) {
        super(message, cause);
        this.failure = failure;
        this.httpStatus = httpStatus;
        this.forgeError = forgeError;
        this.forgeMessage = forgeMessage;
        this.mayStillRun = mayStillRun;
    }

    static ForgeException of(ForgeFailure failure, String message) {
        return new ForgeException(failure, 0, null, null, false, message, null);
    }

    /** The kind of failure. */
    public ForgeFailure failure() {
        return failure;
    }

    /** HTTP status, or 0 when there was no response. */
    public int httpStatus() {
        return httpStatus;
    }

    /** Forge's exception class ({@code error} of a 500 body), or null. */
    public String forgeError() {
        return forgeError;
    }

    /** Forge's explanation ({@code message}, {@code errors} or {@code detail}), shortened, or null. */
    public String forgeMessage() {
        return forgeMessage;
    }

    /**
     * Whether Forge may still be generating for the abandoned request (a timeout or a connection dropped after
     * the request was sent): the next txt2img must first wait until Forge is idle (forge-api.md §11.11).
     */
    public boolean mayStillRun() {
        return mayStillRun;
    }
}
