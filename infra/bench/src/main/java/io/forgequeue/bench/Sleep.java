package io.forgequeue.bench;

import java.util.concurrent.locks.LockSupport;

/** Sleeping without checked exceptions; an interrupt ends the benchmark. */
final class Sleep {

    private Sleep() {}

    static void millis(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    /** Parks until {@code System.nanoTime()} reaches {@code deadline} (precise to ~0.1 ms). */
    static void until(long deadlineNanos) {
        long left;
        while ((left = deadlineNanos - System.nanoTime()) > 0) {
            LockSupport.parkNanos(left);
            if (Thread.interrupted()) {
                throw new IllegalStateException("interrupted");
            }
        }
    }
}
