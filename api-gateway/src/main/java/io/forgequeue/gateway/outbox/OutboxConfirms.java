package io.forgequeue.gateway.outbox;

import io.forgequeue.gateway.system.BackgroundLoop;
import io.forgequeue.gateway.system.ThreadPools;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.dao.DataAccessException;
import org.springframework.stereotype.Component;

/**
 * The confirm bookkeeping of the outbox: entries the broker confirmed are marked sent, entries that failed are
 * released for the sweep, in batches (one statement per batch) on its thread {@code outbox-writer}. An id whose
 * statement fails is kept and tried again; an entry left unmarked is at worst published again after its lease. On
 * stop the thread marks what is still waiting before it ends (it stops after {@link OutboxPublisher}).
 */
@Component
class OutboxConfirms implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(OutboxConfirms.class);
    private static final int MAX_BATCH = 1000;

    private final OutboxRepository outbox;
    private final BlockingQueue<Long> confirmed = new LinkedBlockingQueue<>();
    private final BlockingQueue<Long> failed = new LinkedBlockingQueue<>();
    private final List<Long> sent = new ArrayList<>();
    private final List<Long> back = new ArrayList<>();
    private final BackgroundLoop writer;

    OutboxConfirms(OutboxRepository outbox) {
        this.outbox = outbox;
        this.writer = BackgroundLoop.draining(
                "outbox-writer",
                this::writeBatch,
                () -> !confirmed.isEmpty() || !failed.isEmpty() || !sent.isEmpty() || !back.isEmpty());
    }

    /** The broker confirmed the entry (or there was nothing to publish): mark it sent. */
    void confirmed(long id) {
        confirmed.add(id);
    }

    /** The entry was not published: release it for the sweep. */
    void failed(long id) {
        failed.add(id);
    }

    private void writeBatch() throws InterruptedException {
        try {
            if (sent.isEmpty() && back.isEmpty()) {
                Long first = confirmed.poll(50, TimeUnit.MILLISECONDS);
                if (first != null) {
                    sent.add(first);
                }
            }
            confirmed.drainTo(sent, MAX_BATCH);
            failed.drainTo(back, MAX_BATCH);
            if (!sent.isEmpty()) {
                outbox.markSent(sent);
                sent.clear();
            }
            if (!back.isEmpty()) {
                outbox.release(back);
                back.clear();
            }
        } catch (DataAccessException e) {
            // Keep the ids and try again; unmarked entries are at worst published again after their lease.
            log.warn(
                    "Outbox writer cannot reach the database ({}); retrying",
                    e.getClass().getSimpleName());
            Thread.sleep(500);
        }
    }

    @Override
    public void start() {
        writer.start();
    }

    @Override
    public void stop() {
        writer.stop();
    }

    @Override
    public boolean isRunning() {
        return writer.isRunning();
    }

    /** Stops after the publisher, whose confirms it marks. */
    @Override
    public int getPhase() {
        return ThreadPools.PHASE;
    }
}
