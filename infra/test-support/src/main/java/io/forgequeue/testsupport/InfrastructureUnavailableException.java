package io.forgequeue.testsupport;

/**
 * No usable broker or database could be found or started. The message lists what was tried and says
 * how to get one; tests that hit it fail (they never skip).
 */
public final class InfrastructureUnavailableException extends IllegalStateException {

    private static final long serialVersionUID = 1L;

    public InfrastructureUnavailableException(String message) {
        super(message);
    }

    public InfrastructureUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
