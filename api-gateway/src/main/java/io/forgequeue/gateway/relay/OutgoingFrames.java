package io.forgequeue.gateway.relay;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.web.socket.CloseStatus;
import org.springframework.web.socket.TextMessage;
import org.springframework.web.socket.WebSocketSession;
import org.springframework.web.socket.handler.ConcurrentWebSocketSessionDecorator;

/**
 * The frames waiting to be written to one client, in the order they were queued, and their writing.
 *
 * <p>Writing: one sender task at a time takes frames off the queue and writes them, off the caller's thread, so a
 * slow client holds at most one sender thread and never the relay's or a timer's. The writes go through Spring's
 * {@link ConcurrentWebSocketSessionDecorator} ({@code sendTimeout} as its send-time limit, overflow
 * {@code TERMINATE}): it serialises a write with a close from another thread, and a close while a write has been
 * blocked longer than the limit says {@code SESSION_NOT_RELIABLE}. The queue stays ours because frames are coalesced
 * in it before they are written: a position frame (per job and version) or a queue overview still waiting is
 * replaced by a newer one, so a client that reads slowly while a long queue moves gets the latest numbers, not a
 * backlog of stale ones. A client {@code maxQueuedFrames} frames behind is closed as too slow.
 *
 * <p>Locking: the queue and its slots are guarded by this object's monitor, held only to add, replace or take a
 * frame, never while writing or closing.
 */
final class OutgoingFrames {

    private static final Logger log = LoggerFactory.getLogger(OutgoingFrames.class);
    /** Bytes the decorator may hold for a write in progress; it only ever holds what one sender hands it. */
    private static final int DECORATOR_BUFFER_BYTES = 512 * 1024;

    private final WebSocketSession ws;
    private final Executor senders;
    private final int maxQueuedFrames;
    /** Frames in order: text, a {@link Slot}, or a {@link PendingClose}. */
    private final ArrayDeque<Object> queue = new ArrayDeque<>();
    /** The position frame of each job that is queued and not yet written. */
    private final Map<UUID, Slot> pendingPositions = new HashMap<>();
    /** The queue overview queued and not yet written. */
    private Slot pendingQueue;
    /** Whether a sender task is draining the queue. */
    private boolean draining;
    /** Set once a close was queued behind the frames before it: nothing more is queued. */
    private boolean closing;

    /** A frame whose text a newer one may replace until it is written (a job's position, the queue overview). */
    private static final class Slot {
        final UUID jobId;
        final long version;
        String frame;

        Slot(UUID jobId, long version, String frame) {
            this.jobId = jobId;
            this.version = version;
            this.frame = frame;
        }
    }

    /** A close queued behind the frames that were queued before it. */
    private record PendingClose(CloseStatus status) {}

    /**
     * @param senders         threads that write frames (a slow client blocks at most one of them)
     * @param maxQueuedFrames a client this many frames behind is disconnected
     * @param sendTimeLimit   the decorator's send-time limit
     */
    OutgoingFrames(WebSocketSession ws, Executor senders, int maxQueuedFrames, Duration sendTimeLimit) {
        this.ws = new ConcurrentWebSocketSessionDecorator(
                ws,
                (int) Math.min(Integer.MAX_VALUE, sendTimeLimit.toMillis()),
                DECORATOR_BUFFER_BYTES,
                ConcurrentWebSocketSessionDecorator.OverflowStrategy.TERMINATE);
        this.senders = senders;
        this.maxQueuedFrames = maxQueuedFrames;
    }

    /** Queues a frame. */
    void add(String frame) {
        boolean tooSlow;
        synchronized (this) {
            tooSlow = enqueue(frame) == Outcome.TOO_SLOW;
        }
        closeIfTooSlow(tooSlow);
    }

    /** Queues the position frame of a job at a version, replacing its frame of the same version still waiting. */
    void position(UUID jobId, long version, String frame) {
        boolean tooSlow;
        synchronized (this) {
            Slot waiting = pendingPositions.get(jobId);
            if (waiting != null && waiting.version == version && waiting.frame != null) {
                waiting.frame = frame;
                return;
            }
            Slot slot = new Slot(jobId, version, frame);
            Outcome outcome = enqueue(slot);
            if (outcome == Outcome.QUEUED) {
                pendingPositions.put(jobId, slot);
            }
            tooSlow = outcome == Outcome.TOO_SLOW;
        }
        closeIfTooSlow(tooSlow);
    }

    /** Queues a queue-overview frame, replacing the one still waiting. */
    void queueOverview(String frame) {
        boolean tooSlow;
        synchronized (this) {
            if (pendingQueue != null && pendingQueue.frame != null) {
                pendingQueue.frame = frame;
                return;
            }
            Slot slot = new Slot(null, 0, frame);
            Outcome outcome = enqueue(slot);
            if (outcome == Outcome.QUEUED) {
                pendingQueue = slot;
            }
            tooSlow = outcome == Outcome.TOO_SLOW;
        }
        closeIfTooSlow(tooSlow);
    }

    /**
     * Closes the connection once every frame queued before this call was written; frames queued after it are
     * dropped.
     */
    void closeAfterPending(CloseStatus status) {
        synchronized (this) {
            if (!ws.isOpen() || closing) {
                return;
            }
            queue.add(new PendingClose(status));
            closing = true;
            startDrain();
        }
    }

    /** Closes the connection now. */
    void close(CloseStatus status) {
        try {
            if (ws.isOpen()) {
                ws.close(status);
            }
        } catch (IOException e) {
            log.debug("WebSocket session {} close failed", ws.getId());
        }
    }

    private enum Outcome {
        QUEUED,
        DROPPED,
        TOO_SLOW
    }

    /** Under the monitor: adds an item unless closed or closing; a client too far behind loses its queue. */
    private Outcome enqueue(Object item) {
        if (!ws.isOpen() || closing) {
            return Outcome.DROPPED;
        }
        if (queue.size() >= maxQueuedFrames) {
            clear();
            return Outcome.TOO_SLOW;
        }
        queue.add(item);
        startDrain();
        return Outcome.QUEUED;
    }

    /** Outside the monitor. */
    private void closeIfTooSlow(boolean tooSlow) {
        if (tooSlow) {
            log.info("WebSocket session {} is too slow ({} frames waiting); closing it", ws.getId(), maxQueuedFrames);
            close(CloseStatus.SESSION_NOT_RELIABLE.withReason("too slow"));
        }
    }

    /** Under the monitor. */
    private void startDrain() {
        if (!draining) {
            draining = true;
            senders.execute(this::drain);
        }
    }

    /** Under the monitor. */
    private void clear() {
        queue.clear();
        pendingPositions.clear();
        pendingQueue = null;
    }

    private void drain() {
        try {
            while (true) {
                Object item;
                String frame = null;
                synchronized (this) {
                    item = queue.poll();
                    if (item == null) {
                        draining = false;
                        return;
                    }
                    if (item instanceof PendingClose) {
                        clear();
                        draining = false;
                    } else if (item instanceof Slot slot) {
                        frame = slot.frame;
                        slot.frame = null;
                        if (slot.jobId != null) {
                            pendingPositions.remove(slot.jobId, slot);
                        }
                        if (pendingQueue == slot) {
                            pendingQueue = null;
                        }
                    } else {
                        frame = (String) item;
                    }
                }
                if (item instanceof PendingClose pending) {
                    close(pending.status());
                    return;
                }
                if (frame != null && ws.isOpen()) {
                    ws.sendMessage(new TextMessage(frame));
                }
            }
        } catch (IOException | RuntimeException e) {
            log.debug(
                    "WebSocket session {} send failed: {}",
                    ws.getId(),
                    e.getClass().getSimpleName());
            synchronized (this) {
                clear();
                draining = false;
            }
            close(CloseStatus.SESSION_NOT_RELIABLE);
        }
    }
}
