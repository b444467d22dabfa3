package io.forgequeue.gateway.system;

import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletInputStream;
import java.io.IOException;

/**
 * A request body stream that shows every byte to a check as it passes, for the filters that refuse a body while
 * it is read ({@link BodySizeLimitFilter}, {@link Utf8BodyFilter}). A check refuses by throwing an
 * {@link IOException} subclass that the error handling maps to a problem. Not thread-safe (one request).
 */
abstract class InspectedInputStream extends ServletInputStream {

    private final ServletInputStream in;

    InspectedInputStream(ServletInputStream in) {
        this.in = in;
    }

    /** One byte (0..255) was read. */
    protected abstract void passed(int b) throws IOException;

    /** {@code n > 0} bytes were read into {@code buf} at {@code off}; by default each goes to {@link #passed(int)}. */
    protected void passed(byte[] buf, int off, int n) throws IOException {
        for (int i = 0; i < n; i++) {
            passed(buf[off + i] & 0xFF);
        }
    }

    /** The end of the body was reached. */
    protected void ended() throws IOException {}

    @Override
    public final int read() throws IOException {
        int b = in.read();
        if (b < 0) {
            ended();
        } else {
            passed(b);
        }
        return b;
    }

    @Override
    public final int read(byte[] buf, int off, int len) throws IOException {
        int n = in.read(buf, off, len);
        if (n < 0) {
            ended();
        } else if (n > 0) {
            passed(buf, off, n);
        }
        return n;
    }

    @Override
    public boolean isFinished() {
        return in.isFinished();
    }

    @Override
    public boolean isReady() {
        return in.isReady();
    }

    @Override
    public void setReadListener(ReadListener listener) {
        in.setReadListener(listener);
    }
}
