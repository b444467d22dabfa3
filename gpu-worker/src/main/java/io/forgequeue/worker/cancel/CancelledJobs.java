package io.forgequeue.worker.cancel;

import io.forgequeue.worker.system.WorkerProperties;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BiConsumer;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.stereotype.Component;

/**
 * The jobs whose owners asked to cancel them, and the single attempts this worker was told to stop (assignments the
 * scheduler took back), remembered for a while so that a job delivered later is skipped without calling Forge.
 * Bounded: at most {@code worker.cancel.max-remembered} entries, each for {@code worker.cancel.remember-for}; the
 * oldest are forgotten first. Thread-safe.
 *
 * <p>Listeners hear of every cancel or stop as it arrives (the job runner uses this to stop its running job); this
 * class knows nothing about running jobs.
 */
@Component
public class CancelledJobs {

    private final int maxEntries;
    private final Duration ttl;
    private final Clock clock;
    /** By job id (an owner's cancel) or "jobId#attempt" (a stop of one attempt). */
    private final Map<String, Instant> cancelledAt = new LinkedHashMap<>();

    private final List<BiConsumer<UUID, Integer>> listeners = new CopyOnWriteArrayList<>();

    @Autowired
    public CancelledJobs(WorkerProperties worker, Clock clock) {
        this(worker.cancel().maxRemembered(), worker.cancel().rememberFor(), clock);
    }

    CancelledJobs(int maxEntries, Duration ttl, Clock clock) {
        this.maxEntries = maxEntries;
        this.ttl = ttl;
        this.clock = clock;
    }

    /**
     * Called for every cancel or stop, after it is remembered, with the job and the attempt to stop (null: every
     * attempt).
     */
    public void onCancel(BiConsumer<UUID, Integer> listener) {
        listeners.add(listener);
    }

    /** Remembers its owner's cancel of a job (every attempt) and tells the listeners. */
    public void cancel(UUID jobId) {
        remember(jobId.toString(), jobId, null);
    }

    /** Remembers a stop of one attempt of a job (taken back from this worker) and tells the listeners. */
    public void stopAttempt(UUID jobId, int attempt) {
        remember(jobId + "#" + attempt, jobId, attempt);
    }

    private void remember(String key, UUID jobId, Integer attempt) {
        Instant now = clock.instant();
        synchronized (cancelledAt) {
            cancelledAt.remove(key);
            cancelledAt.put(key, now);
            expire(now);
            while (cancelledAt.size() > maxEntries) {
                Iterator<String> oldest = cancelledAt.keySet().iterator();
                oldest.next();
                oldest.remove();
            }
        }
        for (BiConsumer<UUID, Integer> listener : listeners) {
            listener.accept(jobId, attempt);
        }
    }

    /** Whether its owner cancelled this job (and it has not expired). */
    public boolean isCancelled(UUID jobId) {
        return isRemembered(jobId.toString());
    }

    /** Whether this attempt must not run: its owner cancelled the job, or this worker was told to stop it. */
    public boolean isStopped(UUID jobId, int attempt) {
        return isRemembered(jobId.toString()) || isRemembered(jobId + "#" + attempt);
    }

    private boolean isRemembered(String key) {
        Instant now = clock.instant();
        synchronized (cancelledAt) {
            Instant at = cancelledAt.get(key);
            if (at == null) {
                return false;
            }
            if (at.plus(ttl).isBefore(now)) {
                cancelledAt.remove(key);
                return false;
            }
            return true;
        }
    }

    /** How many ids are remembered now. */
    public int size() {
        synchronized (cancelledAt) {
            expire(clock.instant());
            return cancelledAt.size();
        }
    }

    /** Insertion order is time order, so expired entries are at the head. */
    private void expire(Instant now) {
        Iterator<Map.Entry<String, Instant>> it = cancelledAt.entrySet().iterator();
        while (it.hasNext()) {
            if (it.next().getValue().plus(ttl).isBefore(now)) {
                it.remove();
            } else {
                break;
            }
        }
    }
}
