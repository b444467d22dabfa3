package io.forgequeue.gateway.schedule;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * Assignments a live worker did not report although it should have, and when such an assignment is taken for lost.
 * A worker reports only the job it works on, with a status at least every interval:
 * <ul>
 *   <li>an assignment <b>not started</b> is lost when the worker reported twice that it is idle since it was first
 *       missed (its message never arrived: queue re-created, or the leader died between the commit and the publish);
 *   </li>
 *   <li>a <b>running</b> one is lost when the worker kept reporting other work (or none) for three intervals and at
 *       least {@link #LOST_OUTCOME_MIN}. A worker moves on only once the broker confirmed the attempt's outcome (it is
 *       then in {@code forge.events.persist} and will be merged), or after giving up on it
 *       ({@code worker.outcome.retry-for}); only the second is lost. The minimum leaves time for the merge of an
 *       outcome that is merely late: after a database outage the mergers retry every few seconds.</li>
 * </ul>
 * Only rounds that worked count: everything starts afresh in a new term as leader and after a round that failed
 * (the database was unreachable, so nothing could be merged either). Used by the scheduler thread only.
 */
final class Suspicions {

    /** A running assignment is taken for lost no sooner than this after its worker stopped reporting it. */
    static final Duration LOST_OUTCOME_MIN = Duration.ofSeconds(10);

    /** Since when, and the worker's status sequence number when it was first missed. */
    private record Suspicion(long sinceNanos, long firstSeq) {}

    private final Map<String, Suspicion> byAssignment = new HashMap<>();

    /** Forgets every suspicion (a new term as leader, or a round that failed). */
    void clear() {
        byAssignment.clear();
    }

    /** The assignment was reported (or is not due yet): not suspicious. */
    void cleared(String assignment) {
        byAssignment.remove(assignment);
    }

    /** Keeps only these assignments (the others ended or were taken back). */
    void retainAll(Set<String> assignments) {
        byAssignment.keySet().retainAll(assignments);
    }

    /**
     * The worker's latest status did not report {@code assignment}; whether it is now to be taken for lost.
     *
     * @param running       whether the assignment had started (its RUNNING event was merged)
     * @param lastSeenNanos when the worker's latest status arrived
     * @param seq           that status's sequence number
     * @param intervalNanos how often the worker announces itself
     */
    boolean missed(String assignment, boolean running, long lastSeenNanos, long seq, long intervalNanos) {
        Suspicion s = byAssignment.computeIfAbsent(assignment, k -> new Suspicion(lastSeenNanos, seq));
        boolean lost = running
                ? lastSeenNanos - s.sinceNanos() >= Math.max(3 * intervalNanos, LOST_OUTCOME_MIN.toNanos())
                : seq > s.firstSeq();
        if (lost) {
            byAssignment.remove(assignment);
        }
        return lost;
    }
}
