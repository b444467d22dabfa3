package io.forgequeue.gateway.relay;

import io.forgequeue.gateway.apikey.Caller;
import io.forgequeue.gateway.job.JobView;
import io.forgequeue.model.JobStatus;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Executor;
import org.springframework.web.socket.CloseStatus;
import org.springframework.web.socket.WebSocketSession;

/**
 * One client connection: who it is, which jobs it watches and the last version of each it was sent. Its frames go
 * out through its {@link OutgoingFrames}.
 *
 * <p>Locking, one rule: the watch state is guarded by this object's monitor, and a frame is handed to the outgoing
 * queue under it, so a snapshot and a concurrent update of the same job can never be sent out of version order.
 * Writing to the client happens on a sender thread, never under this monitor.
 *
 * <p>A job watched only through an all-jobs subscription (auto-watched, not subscribed to by id) is forgotten a while
 * after it was sent finished ({@link #forgetFinishedAutoWatches}), so a long-lived all-jobs session does not keep every
 * job its key ever ran.
 */
final class SocketSession {

    private final WebSocketSession ws;
    private final OutgoingFrames outgoing;
    private volatile Caller caller;
    private boolean allJobs;
    private final Map<UUID, Watch> watches = new HashMap<>();
    /** Whether the client subscribed to the queue overview ({@code scope: queue}). */
    private boolean queueWatched;
    /** The queue frame last queued for this client (sent or still waiting), to send only changes. */
    private String lastQueueFrame;

    /**
     * @param senders         threads that write frames (a slow client blocks at most one of them)
     * @param maxQueuedFrames a client this many frames behind is disconnected; it resumes from its last version
     * @param sendTimeLimit   a write blocked this long makes the session unreliable ({@link OutgoingFrames})
     */
    SocketSession(WebSocketSession ws, Executor senders, int maxQueuedFrames, Duration sendTimeLimit) {
        this.ws = ws;
        this.outgoing = new OutgoingFrames(ws, senders, maxQueuedFrames, sendTimeLimit);
    }

    SocketSession(WebSocketSession ws, Executor senders, int maxQueuedFrames) {
        this(ws, senders, maxQueuedFrames, Duration.ofSeconds(10));
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
        /** Watched only through the all-jobs subscription. */
        boolean auto;
        /** Whether the version last sent was terminal, and when it was sent ({@link System#nanoTime()}). */
        boolean finished;

        long finishedAtNanos;
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
        outgoing.queueOverview(frame);
        return true;
    }

    /** Starts watching a job; its snapshot is to follow ({@link #snapshot}). */
    synchronized void watch(UUID jobId) {
        Watch w = watches.computeIfAbsent(jobId, id -> new Watch());
        w.snapshotPending = true;
        w.auto = false;
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
                .filter(e ->
                        e.getValue().status == JobStatus.QUEUED && (pools == null || pools.contains(e.getValue().pool)))
                .map(Map.Entry::getKey)
                .toList();
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
            w.auto = true;
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
    synchronized boolean position(
            UUID jobId, int position, long detail, java.util.function.LongFunction<String> frameForVersion) {
        Watch w = watches.get(jobId);
        if (w == null
                || w.snapshotPending
                || w.status != JobStatus.QUEUED
                || (w.position != null && w.position == position && w.positionDetail == detail)) {
            return false;
        }
        w.position = position;
        w.positionDetail = detail;
        outgoing.position(jobId, w.version, frameForVersion.apply(w.version));
        return true;
    }

    /** Queues an encoded frame; frames are written in the order they were queued, off the caller's thread. */
    void send(String frame) {
        outgoing.add(frame);
    }

    /**
     * Closes the connection once every frame queued before this call was written (e.g. an {@code error} frame that
     * explains the close: sent asynchronously, it would otherwise be overtaken by the close). Frames queued after
     * this call are dropped.
     */
    void closeAfterPending(CloseStatus status) {
        outgoing.closeAfterPending(status);
    }

    void close(CloseStatus status) {
        outgoing.close(status);
    }

    /**
     * Forgets the auto-watched jobs (all-jobs subscription, never subscribed to by id) that were sent finished before
     * {@code finishedBeforeNanos} ({@link System#nanoTime()}); returns their ids (to drop from the registry's index).
     */
    synchronized List<UUID> forgetFinishedAutoWatches(long finishedBeforeNanos) {
        List<UUID> forgotten = new ArrayList<>();
        watches.entrySet().removeIf(e -> {
            Watch w = e.getValue();
            boolean due = w.auto && w.finished && w.finishedAtNanos - finishedBeforeNanos < 0;
            if (due) {
                forgotten.add(e.getKey());
            }
            return due;
        });
        return forgotten;
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
        w.finished = view.status().isTerminal();
        w.finishedAtNanos = System.nanoTime();
        w.pool = view.pool();
        w.checkpoint = view.spec() == null ? null : view.spec().checkpoint();
        if (view.status() != JobStatus.QUEUED) {
            w.position = null;
        } else if (view.position() != null) {
            w.position = view.position();
        }
    }
}
