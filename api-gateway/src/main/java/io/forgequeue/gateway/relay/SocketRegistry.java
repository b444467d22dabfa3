package io.forgequeue.gateway.relay;

import io.forgequeue.gateway.system.GatewayMetrics;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.springframework.stereotype.Component;

/**
 * The WebSocket sessions of this instance, indexed by watched job and by owner (for "all my jobs" subscriptions).
 * A session is indexed under a job only after the job's ownership was checked (subscribe) or because the job's
 * owner is the session's key (all-jobs), so an update can never reach another key's session.
 */
@Component
class SocketRegistry {

    private final Map<String, SocketSession> sessions = new ConcurrentHashMap<>();
    private final Map<UUID, Set<SocketSession>> byJob = new ConcurrentHashMap<>();
    private final Map<UUID, Set<SocketSession>> allJobsOf = new ConcurrentHashMap<>();
    private final GatewayMetrics metrics;

    SocketRegistry(GatewayMetrics metrics) {
        this.metrics = metrics;
    }

    void add(SocketSession session) {
        sessions.put(session.id(), session);
        metrics.sessionsOpen(sessions.size());
    }

    SocketSession get(String id) {
        return sessions.get(id);
    }

    Collection<SocketSession> all() {
        return sessions.values();
    }

    void remove(SocketSession session) {
        sessions.remove(session.id());
        for (UUID jobId : session.watchedJobs()) {
            drop(byJob, jobId, session);
        }
        if (session.caller() != null) {
            drop(allJobsOf, session.caller().keyId(), session);
        }
        metrics.sessionsOpen(sessions.size());
    }

    /** Starts watching an owned job (its snapshot follows). */
    void watch(SocketSession session, UUID jobId) {
        session.watch(jobId);
        index(session, jobId);
    }

    /** Indexes a job the session already watches. */
    void index(SocketSession session, UUID jobId) {
        byJob.computeIfAbsent(jobId, id -> ConcurrentHashMap.newKeySet()).add(session);
    }

    /**
     * Forgets, in every session, the auto-watched jobs sent finished before {@code finishedBeforeNanos}
     * ({@link System#nanoTime()}), and drops them from the job index; returns how many were forgotten.
     */
    int forgetFinishedAutoWatches(long finishedBeforeNanos) {
        int forgotten = 0;
        for (SocketSession session : sessions.values()) {
            for (UUID jobId : session.forgetFinishedAutoWatches(finishedBeforeNanos)) {
                drop(byJob, jobId, session);
                forgotten++;
            }
        }
        return forgotten;
    }

    void unwatch(SocketSession session, UUID jobId) {
        session.unwatch(jobId);
        drop(byJob, jobId, session);
    }

    void watchAll(SocketSession session) {
        session.watchAll(true);
        allJobsOf
                .computeIfAbsent(session.caller().keyId(), id -> ConcurrentHashMap.newKeySet())
                .add(session);
    }

    void unwatchAll(SocketSession session) {
        session.watchAll(false);
        drop(allJobsOf, session.caller().keyId(), session);
    }

    /** Sessions that watch the job explicitly or through an all-jobs subscription of its owner. */
    Set<SocketSession> interestedIn(UUID jobId, UUID owner) {
        Set<SocketSession> out = new HashSet<>(byJob.getOrDefault(jobId, Set.of()));
        if (owner != null) {
            out.addAll(allJobsOf.getOrDefault(owner, Set.of()));
        }
        return out;
    }

    Set<SocketSession> watching(UUID jobId) {
        return byJob.getOrDefault(jobId, Set.of());
    }

    /** Queued jobs of {@code pool} watched by any session, with their sessions. */
    Map<UUID, List<SocketSession>> queuedWatchesIn(java.util.Collection<String> pools) {
        Map<UUID, List<SocketSession>> out = new HashMap<>();
        for (SocketSession session : sessions.values()) {
            for (UUID jobId : session.queuedIn(pools)) {
                out.computeIfAbsent(jobId, id -> new java.util.ArrayList<>()).add(session);
            }
        }
        return out;
    }

    /** Every watched QUEUED job of every pool, with the sessions watching it. */
    Map<UUID, List<SocketSession>> queuedWatches() {
        return queuedWatchesIn(null);
    }

    int size() {
        return sessions.size();
    }

    private static void drop(Map<UUID, Set<SocketSession>> index, UUID key, SocketSession session) {
        index.computeIfPresent(key, (k, set) -> {
            set.remove(session);
            return set.isEmpty() ? null : set;
        });
    }
}
