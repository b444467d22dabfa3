package io.forgequeue.testsupport;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;

/** A TCP port on this machine that nothing listens on right now, for an app process started on it. */
public final class FreePort {

    private FreePort() {}

    /** A port the kernel picked as free a moment ago (another process could still take it before the app does). */
    public static int next() {
        try (ServerSocket s = new ServerSocket(0)) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
