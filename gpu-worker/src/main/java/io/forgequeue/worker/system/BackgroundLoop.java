package io.forgequeue.worker.system;

import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One named platform thread that runs a pass of work again and again between {@link #start()} and {@link #stop()},
 * which its owner calls from its {@link org.springframework.context.SmartLifecycle}. A pass blocks for a short while
 * at most (a poll with a timeout) and checks {@link #isRunning()} in any inner loop. A pass that throws is logged and
 * the loop goes on after a short pause; an {@link InterruptedException} ends it once stopped.
 *
 * <p>Two ways to stop: {@link #interruptible} interrupts the thread (its work is given up, e.g. a listening
 * connection); {@link #draining} lets the thread finish what {@code pending} says is left (e.g. confirmed ids still to
 * be marked), without interrupting it. Either way {@link #stop()} waits for the thread (a bounded time).
 */
public final class BackgroundLoop {
    // the gateway has the same class (io.forgequeue.gateway.system.BackgroundLoop): the apps share no code

    /** One pass of the loop's work. */
    @FunctionalInterface
    public interface Pass {
        void run() throws InterruptedException;
    }

    /** How long {@link #stop()} waits for the thread to end. */
    public static final long JOIN_MILLIS = 2000;

    private static final Logger log = LoggerFactory.getLogger(BackgroundLoop.class);
    private static final long PAUSE_AFTER_FAILURE_MILLIS = 500;

    private final String name;
    private final Pass pass;
    private final BooleanSupplier pending;
    private final boolean interruptOnStop;
    private volatile boolean running;
    private volatile Thread thread;

    private BackgroundLoop(String name, Pass pass, BooleanSupplier pending, boolean interruptOnStop) {
        this.name = name;
        this.pass = pass;
        this.pending = pending;
        this.interruptOnStop = interruptOnStop;
    }

    /** A loop whose thread is interrupted on stop. */
    public static BackgroundLoop interruptible(String name, Pass pass) {
        return new BackgroundLoop(name, pass, () -> false, true);
    }

    /** A loop that, once stopped, runs passes while {@code pending} says work is left (not interrupted). */
    public static BackgroundLoop draining(String name, Pass pass, BooleanSupplier pending) {
        return new BackgroundLoop(name, pass, pending, false);
    }

    public String name() {
        return name;
    }

    public synchronized void start() {
        if (running) {
            return;
        }
        running = true;
        Thread t = new Thread(this::loop, name);
        t.setDaemon(true);
        thread = t;
        t.start();
    }

    /** Stops the loop and waits for its thread (up to {@link #JOIN_MILLIS}). */
    public void stop() {
        stop(JOIN_MILLIS);
    }

    /** Stops the loop and waits for its thread up to {@code joinMillis}. */
    public void stop(long joinMillis) {
        Thread t;
        synchronized (this) {
            running = false;
            t = thread;
            thread = null;
        }
        if (t == null) {
            return;
        }
        if (interruptOnStop) {
            t.interrupt();
        }
        try {
            t.join(Math.max(1, joinMillis));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (t.isAlive()) {
            log.warn("Thread {} did not end within {} ms of stop", name, joinMillis);
        }
    }

    /** Whether the loop should go on (false once stop was called). */
    public boolean isRunning() {
        return running;
    }

    private void loop() {
        while (running || pending.getAsBoolean()) {
            try {
                pass.run();
            } catch (InterruptedException e) {
                if (!running) {
                    return;
                }
            } catch (RuntimeException e) {
                log.error("Thread {} failed; going on", name, e);
                try {
                    Thread.sleep(PAUSE_AFTER_FAILURE_MILLIS);
                } catch (InterruptedException interrupted) {
                    if (!running) {
                        return;
                    }
                }
            }
        }
    }
}
