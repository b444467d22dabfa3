package io.forgequeue.forgesim;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.function.BooleanSupplier;

/** Starting in-process sims on free ports, and waiting for conditions, in tests. */
final class SimTestSupport {

    private SimTestSupport() {}

    /** An in-process sim on free ports; extra flags as on the command line. */
    static ForgeSimServer startSim(String... flags) {
        String[] args = new String[flags.length + 2];
        args[0] = "--port";
        args[1] = "0";
        System.arraycopy(flags, 0, args, 2, flags.length);
        try {
            return ForgeSimServer.start(SimConfig.fromArgs(args));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Polls {@code condition} every 5 ms until it holds, failing after {@code timeout}. */
    static void await(String what, Duration timeout, BooleanSupplier condition) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + timeout + " waiting for " + what);
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted while waiting for " + what);
            }
        }
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
