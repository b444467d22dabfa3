package io.forgequeue.worker.job;

import io.forgequeue.model.WorkerStatus;
import org.springframework.stereotype.Component;

import java.util.concurrent.atomic.AtomicReference;

/**
 * The assignment this worker is working on, from the moment its message is delivered until the message is
 * settled, as the worker's announcements report it. Thread-safe.
 */
@Component
class Holding {

    private final AtomicReference<WorkerStatus.Assignment> current = new AtomicReference<>();

    void taken(WorkerStatus.Assignment assignment) {
        current.set(assignment);
    }

    void released() {
        current.set(null);
    }

    /** The assignment being worked on, or null when idle. */
    WorkerStatus.Assignment current() {
        return current.get();
    }
}
