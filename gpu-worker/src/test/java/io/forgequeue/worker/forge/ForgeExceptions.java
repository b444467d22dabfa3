package io.forgequeue.worker.forge;

/** The failures {@link ForgeClient} throws, built for tests outside this package (their constructors are not public). */
public final class ForgeExceptions {

    private ForgeExceptions() {}

    /** Forge ran {@code used} instead of {@code requested}, also on the second try. */
    public static ModelMismatchException modelMismatch(String requested, String used) {
        return new ModelMismatchException(requested, used, null);
    }

    /** A failed Forge call of the given kind. */
    public static ForgeException failure(ForgeFailure failure, String message) {
        return ForgeException.of(failure, message);
    }
}
