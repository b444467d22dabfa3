package io.forgequeue.forgesim;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Which calls are in progress and whether they are still wanted: {@link #abortAll()} ends every registered call
 * (running, waiting for the queue lock, or hung) with {@link Txt2ImgEngine.Aborted} at its next check, and a call's
 * waits ({@link #waitUntil}) are checks. A call registers its own thread for its whole length. Thread-safe.
 */
final class CallAborts {

    private final Set<Thread> activeCalls = ConcurrentHashMap.newKeySet();

    private final AtomicLong epoch = new AtomicLong();

    /** Registers the calling thread as a call; returns the epoch its checks compare against. */
    long register() {
        synchronized (activeCalls) {
            activeCalls.add(Thread.currentThread());
        }
        return epoch.get();
    }

    void unregister() {
        synchronized (activeCalls) {
            activeCalls.remove(Thread.currentThread());
        }
        Thread.interrupted(); // an abort aimed at this call must not leak into the pool thread's next request
    }

    /** Abandons every call in progress: each ends with {@link Txt2ImgEngine.Aborted} and gets no answer. */
    void abortAll() {
        epoch.incrementAndGet();
        synchronized (activeCalls) {
            activeCalls.forEach(Thread::interrupt);
        }
    }

    /** Throws {@link Txt2ImgEngine.Aborted} when the call registered at {@code myEpoch} was abandoned. */
    void check(long myEpoch) {
        if (epoch.get() != myEpoch || Thread.currentThread().isInterrupted()) {
            throw new Txt2ImgEngine.Aborted();
        }
    }

    /** Waits until {@code deadline} ({@link System#nanoTime()}), ending early with Aborted when the call is abandoned. */
    void waitUntil(long deadline, long myEpoch) {
        while (true) {
            check(myEpoch);
            long remaining = deadline - System.nanoTime();
            if (remaining <= 0) {
                return;
            }
            LockSupport.parkNanos(remaining);
            if (Thread.currentThread().isInterrupted()) {
                throw new Txt2ImgEngine.Aborted();
            }
        }
    }
}
