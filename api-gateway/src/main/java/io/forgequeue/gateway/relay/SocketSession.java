package io.forgequeue.gateway.relay;

import io.forgequeue.gateway.apikey.Caller;
import io.forgequeue.gateway.job.JobView;
import io.forgequeue.model.JobStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.web.socket.CloseStatus;
import org.springframework.web.socket.TextMessage;
import org.springframework.web.socket.WebSocketSession;

import java.io.IOException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One client connection: who it is, which jobs it watches and the last version of each it was sent. All state
 * is guarded by this object's monitor, so a snapshot and a concurrent update for the same job can never be sent
 * out of version order.
 *
 * <p>A position frame still waiting to be written is replaced in place by a newer position of the same job and
 * version, so a client that reads slowly while a long queue moves gets the latest positions, not a growing
 * backlog of stale ones (which would get it closed as too slow).
 */
final class SocketSession {

    private static final Logger log = LoggerFactory.getLogger(SocketSession.class);

    private final WebSocketSession ws;
    private final Executor senders;
    private final int maxQueuedFrames;
    private volatile Caller caller;
    private boolean allJobs;
    private final Map<UUID, Watch> watches = new HashMap<>();
    /** Frames waiting to be written, in order (text, or a {@link PositionSlot}); drained by one sender thread at a time. */
    private final ConcurrentLinkedQueue<Object> outgoing = new ConcurrentLinkedQueue<>();
    /** The position frame of each job that is queued and not yet written. */
    private final ConcurrentHashMap<UUID, PositionSlot> pendingPositions = new ConcurrentHashMap<>();
    private final AtomicInteger queued = new AtomicInteger();
    private final AtomicBoolean draining = new AtomicBoolean();
    /** Whether the client subscribed to the queue overview ({@code scope: queue}). */
    private boolean queueWatched;
    /** The queue frame last queued for this client (sent or still waiting), to send only changes. */
    private String lastQueueFrame;
    /** The queue frame queued and not yet written: a newer overview replaces its text. */
    private QueueSlot pendingQueue;
    /** Set once a close was queued behind the frames before it ({@link #closeAfterPending}): nothing more is queued. */
    private volatile boolean closing;

    /**
     * @param senders         threads that write frames (a slow client blocks at most one of them)
     * @param maxQueuedFrames a client this many frames behind is disconnected; it resumes from its last version
     */
    SocketSession(WebSocketSession ws, Executor senders, int maxQueuedFrames) {
        this.ws = ws;
        this.senders = senders;
        this.maxQueuedFrames = maxQueuedFrames;
    }

    /** A queued position frame; a newer position of the same job and version replaces its text until it is written. */
    private static final class PositionSlot {
        final UUID jobId;
        final long version;
        final AtomicReference<String> frame;

        PositionSlot(UUID jobId, long version, String frame) {
            this.jobId = jobId;
            this.version = version;
            this.frame = new AtomicReference<>(frame);
        }

        /** False when the frame was written (taken) already. */
        boolean replace(String newer) {
            return frame.getAndUpdate(old -> old == null ? null : newer) != null;
        }

        String take() {
            return frame.getAndSet(null);
        }
    }

    /** A queued queue-overview frame; a newer overview replaces its text until it is written. */
    private static final class QueueSlot {
        final AtomicReference<String> frame;

        QueueSlot(String frame) {
            this.frame = new AtomicReference<>(frame);
        }

        boolean replace(String newer) {
            return frame.getAndUpdate(old -> old == null ? null : newer) != null;
        }

        String take() {
            return frame.getAndSet(null);
        }
    }

    /** A close queued behind the frames that were queued before it. */
    private record PendingClose(CloseStatus status) {
    }

    /** A watched job: last version sent, and a buffered update while its snapshot is being read. */
    static final class Watch {
        long version = -1;
        boolean snapshotPending;
        JobView buffered;
        String pool;
        String checkpoint;
        JobStatus status;
        Integer position;
        long positionDetail;
    }

    String id() {
        return ws.getId();
    }

    Caller caller() {
        return caller;
    }

    void authenticate(Caller who) {
        this.caller = who;
    }

    synchronized boolean allJobs() {
        return allJobs;
    }

    synchronized void watchAll(boolean on) {
        allJobs = on;
    }

    /** Starts or stops watching the queue overview; a new subscription gets the next overview whatever it is. */
    synchronized void watchQueue(boolean on) {
        queueWatched = on;
        lastQueueFrame = null;
    }

    synchronized boolean watchesQueue() {
        return queueWatched;
    }

    /**
     * Sends a queue overview frame if the client watches the queue and it differs from the last one queued for it.
     * An overview still waiting to be written is replaced by this newer one rather than followed by it, so a slow
     * client gets the latest numbers, never a backlog.
     */
    synchronized boolean queue(String frame) {
        if (!queueWatched || frame.equals(lastQueueFrame)) {
            return false;
        }
        lastQueueFrame = frame;
        if (pendingQueue != null && pendingQueue.replace(frame)) {
            return true;
        }
        pendingQueue = new QueueSlot(frame);
        enqueue(pendingQueue);
        return true;
    }

    /** Starts watching a job; its snapshot is to follow ({@link #snapshot}). */
    synchronized void watch(UUID jobId) {
        Watch w = watches.computeIfAbsent(jobId, id -> new Watch());
        w.snapshotPending = true;
    }

    synchronized void unwatch(UUID jobId) {
        watches.remove(jobId);
    }

    synchronized boolean watches(UUID jobId) {
        return watches.containsKey(jobId);
    }

    synchronized List<UUID> watchedJobs() {
        return List.copyOf(watches.keySet());
    }

    /** The watched jobs that are QUEUED in one of {@code pools} (every pool when null), as last sent. */
    synchronized List<UUID> queuedIn(java.util.Collection<String> pools) {
        return watches.entrySet().stream()
                .filter(e -> e.getValue().status == JobStatus.QUEUED
                        && (pools == null || pools.contains(e.getValue().pool)))
                .map(Map.Entry::getKey).toList();
    }

    /** The pool of a watched job as last sent, or null. */
    synchronized String poolOf(UUID jobId) {
        Watch w = watches.get(jobId);
        return w == null ? null : w.pool;
    }

    /** The checkpoint of a watched job as last sent, or null. */
    synchronized String checkpointOf(UUID jobId) {
        Watch w = watches.get(jobId);
        return w == null ? null : w.checkpoint;
    }

    /**
     * Sends the snapshot of a watched job (frame {@code snapshot}), or, when the client already has this version,
     * a {@code subscribed} frame saying nothing changed. Then any update that arrived meanwhile and is newer.
     * Returns the frames sent (0 when the job is no longer watched).
     */
    synchronized int snapshot(JobView view, Long clientVersion, Frames frames) {
        Watch w = watches.get(view.id());
        if (w == null) {
            return 0;
        }
        int sent = 0;
        if (clientVersion != null && clientVersion == view.version()) {
            send(frames.subscribed(view.id(), view.version(), true));
        } else {
            send(frames.snapshot(view));
            sent++;
        }
        remember(w, view);
        w.snapshotPending = false;
        if (w.buffered != null && w.buffered.version() > w.version) {
            send(frames.update(w.buffered));
            remember(w, w.buffered);
            sent++;
        }
        w.buffered = null;
        return sent;
    }

    /** Sends a newer version of a job (frame {@code update}); older or equal versions are dropped. */
    boolean update(JobView view, boolean autoWatch, Frames frames) {
        return update(view, autoWatch, new EncodedUpdate(() -> frames.update(view)));
    }

    /**
     * Sends a newer version of a job (frame {@code update}), encoded at most once for all the sessions it goes to;
     * older or equal versions are dropped.
     */
    synchronized boolean update(JobView view, boolean autoWatch, EncodedUpdate encoded) {
        Watch w = watches.get(view.id());
        if (w == null) {
            if (!autoWatch) {
                return false;
            }
            w = new Watch();
            watches.put(view.id(), w);
        }
        if (w.snapshotPending) {
            if (w.buffered == null || view.version() > w.buffered.version()) {
                w.buffered = view;
            }
            return false;
        }
        if (view.version() <= w.version) {
            return false;
        }
        send(encoded.frame());
        remember(w, view);
        return true;
    }

    /**
     * Sends a new queue position of a watched, still queued job if it differs from the last one sent.
     *
     * @param frameForVersion the encoded frame for the version this session last saw (shared by the sessions that
     *                        watch the same job, so it is encoded once)
     */
    synchronized boolean position(UUID jobId, int position, java.util.function.LongFunction<String> frameForVersion) {
        return position(jobId, position, 0, frameForVersion);
    }

    /**
     * As {@link #position(UUID, int, java.util.function.LongFunction)}; {@code detail} stands for the rest of the
     * frame (what the job waits for): a frame is also sent when only that changed.
     */
    synchronized boolean position(UUID jobId, int position, long detail,
                                  java.util.function.LongFunction<String> frameForVersion) {
        Watch w = watches.get(jobId);
        if (w == null || w.snapshotPending || w.status != JobStatus.QUEUED
                || (w.position != null && w.position == position && w.positionDetail == detail)) {
            return false;
        }
        w.position = position;
        w.positionDetail = detail;
        String frame = frameForVersion.apply(w.version);
        PositionSlot waiting = pendingPositions.get(jobId);
        if (waiting != null && waiting.version == w.version && waiting.replace(frame)) {
            return true;
        }
        PositionSlot slot = new PositionSlot(jobId, w.version, frame);
        pendingPositions.put(jobId, slot);
        enqueue(slot);
        return true;
    }

    /** Queues an encoded frame; frames are written in the order they were queued, off the caller's thread. */
    void send(String frame) {
        enqueue(frame);
    }

    /**
     * Closes the connection once every frame queued before this call was written (e.g. an {@code error} frame that
     * explains the close: sent asynchronously, it would otherwise be overtaken by the close). Frames queued after
     * this call are dropped.
     */
    void closeAfterPending(CloseStatus status) {
        if (!ws.isOpen() || closing) {
            return;
        }
        outgoing.add(new PendingClose(status));
        closing = true;
        queued.incrementAndGet();
        if (draining.compareAndSet(false, true)) {
            senders.execute(this::drain);
        }
    }

    private void enqueue(Object frame) {
        if (!ws.isOpen() || closing) {
            return;
        }
        if (queued.incrementAndGet() > maxQueuedFrames) {
            log.info("WebSocket session {} is too slow ({} frames waiting); closing it", ws.getId(), maxQueuedFrames);
            outgoing.clear();
            pendingPositions.clear();
            close(CloseStatus.SESSION_NOT_RELIABLE.withReason("too slow"));
            return;
        }
        outgoing.add(frame);
        if (draining.compareAndSet(false, true)) {
            senders.execute(this::drain);
        }
    }

    private void drain() {
        try {
            Object item;
            while ((item = outgoing.poll()) != null) {
                queued.decrementAndGet();
                if (item instanceof PendingClose pending) {
                    outgoing.clear();
                    pendingPositions.clear();
                    close(pending.status());
                    return;
                }
                String frame;
                if (item instanceof PositionSlot slot) {
                    frame = slot.take();
                    pendingPositions.remove(slot.jobId, slot);
                } else if (item instanceof QueueSlot slot) {
                    frame = slot.take();
                } else {
                    frame = (String) item;
                }
                if (frame != null && ws.isOpen()) {
                    ws.sendMessage(new TextMessage(frame));
                }
            }
        } catch (IOException | RuntimeException e) {
            log.debug("WebSocket session {} send failed: {}", ws.getId(), e.getClass().getSimpleName());
            outgoing.clear();
            pendingPositions.clear();
            close(CloseStatus.SESSION_NOT_RELIABLE);
        } finally {
            draining.set(false);
            if (!outgoing.isEmpty() && ws.isOpen() && draining.compareAndSet(false, true)) {
                senders.execute(this::drain);
            }
        }
    }

    void close(CloseStatus status) {
        try {
            if (ws.isOpen()) {
                ws.close(status);
            }
        } catch (IOException e) {
            log.debug("WebSocket session {} close failed", ws.getId());
        }
    }

    /** The version last sent of every watched job that was not terminal then (and whose snapshot was sent). */
    synchronized Map<UUID, Long> unfinishedVersions() {
        Map<UUID, Long> out = new HashMap<>();
        watches.forEach((jobId, w) -> {
            if (!w.snapshotPending && w.status != null && !w.status.isTerminal()) {
                out.put(jobId, w.version);
            }
        });
        return out;
    }

    /**
     * Whether this session lacks {@code version} of a job: it watches the job and was sent an older version (not
     * while its snapshot is being read), or, with {@code autoWatch} (an all-jobs session), does not watch it yet.
     */
    synchronized boolean lacks(UUID jobId, long version, boolean autoWatch) {
        Watch w = watches.get(jobId);
        if (w == null) {
            return autoWatch;
        }
        return !w.snapshotPending && w.version < version;
    }

    synchronized Long versionOf(UUID jobId) {
        Watch w = watches.get(jobId);
        return w == null ? null : w.version;
    }

    private static void remember(Watch w, JobView view) {
        w.version = view.version();
        w.status = view.status();
        w.pool = view.pool();
        w.checkpoint = view.spec() == null ? null : view.spec().checkpoint();
        if (view.status() != JobStatus.QUEUED) {
            w.position = null;
        } else if (view.position() != null) {
            w.position = view.position();
        }
    }
}
