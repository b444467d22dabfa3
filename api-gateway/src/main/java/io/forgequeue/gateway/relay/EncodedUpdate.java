package io.forgequeue.gateway.relay;

import java.util.function.Supplier;

/**
 * The {@code update} frame of one job version, encoded on first use and then shared by every session it goes to:
 * a job watched by a thousand clients costs one JSON encoding, not a thousand. Thread-safe (at worst two threads
 * encode the same frame once each).
 */
final class EncodedUpdate {

    private final Supplier<String> encode;
    private volatile String frame;

    /** @param encode encodes the frame (e.g. {@code () -> frames.update(view)}) */
    EncodedUpdate(Supplier<String> encode) {
        this.encode = encode;
    }

    String frame() {
        String f = frame;
        if (f == null) {
            f = encode.get();
            frame = f;
        }
        return f;
    }
}
