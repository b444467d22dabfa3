package io.forgequeue.gateway.schedule;

import io.forgequeue.gateway.fleet.FleetWorker;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Workers whose own queue was gone when the scheduler last handed them a job (the message came back unroutable: the
 * worker died, or lost its connection, and still looks alive until its presence timeout). Such a worker gets nothing
 * more until it announces itself again (a status newer than the one known at the return, or a new instance): without
 * this, every job taken back from it would be handed straight back to it, and come back again, until its attempts
 * ran out (TOO_MANY_ATTEMPTS within a second of a worker's crash). Thread-safe: returns arrive on the broker's threads.
 */
final class UnreachableWorkers {

    /** The worker as it was known when a hand-out to it came back. */
    private record Mark(UUID instance, long seq) {}

    private final Map<String, Mark> marks = new ConcurrentHashMap<>();

    /** A hand-out to {@code workerId} came back unroutable; {@code known} is the worker as the directory has it. */
    void returned(String workerId, Optional<FleetWorker> known) {
        known.ifPresent(w -> marks.put(workerId, new Mark(w.instance(), w.seq())));
    }

    /** Whether the scheduler may hand {@code worker} a job: no hand-out to it came back since its last status. */
    boolean mayReceive(FleetWorker worker) {
        Mark mark = marks.get(worker.id());
        if (mark == null) {
            return true;
        }
        if (!worker.instance().equals(mark.instance()) || worker.seq() > mark.seq()) {
            marks.remove(worker.id(), mark);
            return true;
        }
        return false;
    }
}
