package io.forgequeue.bench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A closed-loop load: a few threads keep {@code inFlight} jobs submitted but not yet finished (as seen by the
 * {@link JobTracker}), submitting a new one whenever one finishes. The pipeline then runs as fast as its slowest
 * stage allows. Records the end-to-end time of every job (POST sent → terminal update received).
 */
final class ClosedLoop implements AutoCloseable {

    private final GatewayClient api;
    private final JobTracker tracker;
    private final Semaphore permits;
    private final int inFlight;
    private final int steps;
    private final List<Thread> threads = new ArrayList<>();
    private final AtomicLong submitted = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();
    private final AtomicLong completed = new AtomicLong();
    private final AtomicLong failedJobs = new AtomicLong();
    private final AtomicLong errors = new AtomicLong();
    private volatile Latency endToEnd = new Latency();
    private volatile boolean running = true;
    private volatile String lastError;

    ClosedLoop(GatewayClient api, JobTracker tracker, int inFlight, int threadCount, int steps) {
        this.api = api;
        this.tracker = tracker;
        this.inFlight = inFlight;
        this.permits = new Semaphore(inFlight);
        this.steps = steps;
        for (int i = 0; i < threadCount; i++) {
            Thread t = new Thread(this::loop, "closed-loop-" + i);
            t.setDaemon(true);
            threads.add(t);
        }
    }

    ClosedLoop start() {
        threads.forEach(Thread::start);
        return this;
    }

    private void loop() {
        long n = 0;
        while (running) {
            try {
                if (!permits.tryAcquire(200, TimeUnit.MILLISECONDS)) {
                    continue;
                }
            } catch (InterruptedException e) {
                return;
            }
            if (!running) {
                permits.release();
                return;
            }
            long t0 = System.nanoTime();
            try {
                GatewayClient.Submitted s = api.submit(
                        GatewayClient.job("bench " + Thread.currentThread().getName() + " " + n++, steps));
                if (!s.accepted()) {
                    refused.incrementAndGet();
                    lastError = s.status() + " " + s.body();
                    permits.release();
                    Sleep.millis(50);
                    continue;
                }
                submitted.incrementAndGet();
                UUID id = s.jobId();
                tracker.terminal(id).whenComplete((t, e) -> {
                    if (t != null) {
                        if (!t.caughtUp()) {
                            endToEnd.recordNanos(t.receivedNanos() - t0);
                        }
                        if (!t.succeeded()) {
                            failedJobs.incrementAndGet();
                        }
                    }
                    completed.incrementAndGet();
                    tracker.forget(id);
                    permits.release();
                });
            } catch (RuntimeException e) {
                errors.incrementAndGet();
                lastError = e.toString();
                permits.release();
                Sleep.millis(50);
            }
        }
    }

    long submitted() {
        return submitted.get();
    }

    long completed() {
        return completed.get();
    }

    long refused() {
        return refused.get();
    }

    long errors() {
        return errors.get();
    }

    long failedJobs() {
        return failedJobs.get();
    }

    String lastError() {
        return lastError;
    }

    /** Starts a new end-to-end histogram (e.g. after the warm-up) and returns the old one. */
    Latency resetLatency() {
        Latency old = endToEnd;
        endToEnd = new Latency();
        return old;
    }

    Latency latency() {
        return endToEnd;
    }

    /** Stops submitting and waits until every submitted job finished. */
    void drain(Duration timeout) {
        running = false;
        for (Thread t : threads) {
            try {
                t.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        try {
            if (!permits.tryAcquire(inFlight, timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new IllegalStateException((inFlight - permits.availablePermits()) + " jobs still unfinished "
                        + timeout + " after the load stopped");
            }
            permits.release(inFlight);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        running = false;
    }
}
