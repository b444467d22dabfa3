package io.forgequeue.worker.cancel;

import io.forgequeue.worker.system.WorkerProperties;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.stereotype.Component;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * The jobs whose owners asked to cancel them, remembered for a while so that a job delivered later is skipped
 * without calling Forge. Bounded: at most {@code worker.cancel.max-remembered} ids, each for
 * {@code worker.cancel.remember-for}; the oldest are forgotten first. Thread-safe.
 *
 * <p>Listeners hear of every cancel as it arrives (the job runner uses this to stop its running job); this class
 * knows nothing about running jobs.
 */
@Component
public class CancelledJobs {

    private final int maxEntries;
    private final Duration ttl;
    private final Clock clock;
    private final Map<UUID, Instant> cancelledAt = new LinkedHashMap<>();
    private final List<Consumer<UUID>> listeners = new CopyOnWriteArrayList<>();

    @Autowired
    public CancelledJobs(WorkerProperties worker, Clock clock) {
        this(worker.cancel().maxRemembered(), worker.cancel().rememberFor(), clock);
    }

    CancelledJobs(int maxEntries, Duration ttl, Clock clock) {
        this.maxEntries = maxEntries;
        this.ttl = ttl;
        this.clock = clock;
    }

    /** Called for every cancel command, after it is remembered. */
    public void onCancel(Consumer<UUID> listener) {
        listeners.add(listener);
    }

    /** Remembers the cancel and tells the listeners. */
    public void cancel(UUID jobId) {
        Instant now = clock.instant();
        synchronized (cancelledAt) {
            cancelledAt.remove(jobId);
            cancelledAt.put(jobId, now);
            expire(now);
            while (cancelledAt.size() > maxEntries) {
                Iterator<UUID> oldest = cancelledAt.keySet().iterator();
                oldest.next();
                oldest.remove();
            }
        }
        for (Consumer<UUID> listener : listeners) {
            listener.accept(jobId);
        }
    }

    /** Whether a cancel for this job arrived and has not expired. */
    public boolean isCancelled(UUID jobId) {
        Instant now = clock.instant();
        synchronized (cancelledAt) {
            Instant at = cancelledAt.get(jobId);
            if (at == null) {
                return false;
            }
            if (at.plus(ttl).isBefore(now)) {
                cancelledAt.remove(jobId);
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
        Iterator<Map.Entry<UUID, Instant>> it = cancelledAt.entrySet().iterator();
        while (it.hasNext()) {
            if (it.next().getValue().plus(ttl).isBefore(now)) {
                it.remove();
            } else {
                break;
            }
        }
    }
}
