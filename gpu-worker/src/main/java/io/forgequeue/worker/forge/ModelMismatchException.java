package io.forgequeue.worker.forge;

/**
 * Forge generated with another checkpoint than the job asked for, also after the worker asked it to load the
 * requested one (or it refused to): the images are not the job's result.
 */
public class ModelMismatchException extends RuntimeException {

    private final String requested;
    private final String used;
    private final String forgeMessage;

    /**
     * @param requested    the checkpoint the job named
     * @param used         the checkpoint Forge reported it used
     * @param forgeMessage why Forge refused to select the requested checkpoint, or null when it did not refuse
     */
    ModelMismatchException(String requested, String used, String forgeMessage) {
        super(
                "Forge used model " + used + " instead of " + requested
                        + (forgeMessage == null ? "" : " and refused to load it: " + forgeMessage),
                null,
                false,
                false);
        this.requested = requested;
        this.used = used;
        this.forgeMessage = forgeMessage;
    }

    /** The checkpoint the job named. */
    public String requested() {
        return requested;
    }

    /** The checkpoint Forge reported it used. */
    public String used() {
        return used;
    }

    /** Why Forge refused to select the requested checkpoint, or null. */
    public String forgeMessage() {
        return forgeMessage;
    }

    /** For the person who submitted the job. */
    public String userMessage() {
        return "The GPU server used model " + used + " instead of " + requested + ".";
    }
}
