package io.forgequeue.worker.job;

import io.forgequeue.model.WorkerStatus;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import org.springframework.stereotype.Component;

/**
 * The assignment this worker is working on, from the moment its message is delivered until the message is
 * settled, as the worker's announcements report it; listeners hear of every change at once (the scheduler frees the
 * worker's slot when it learns that the worker moved on). Thread-safe.
 */
@Component
class Holding {

    private final AtomicReference<WorkerStatus.Assignment> current = new AtomicReference<>();
    private final List<Runnable> listeners = new CopyOnWriteArrayList<>();

    /** Called (on the thread that changed it) after every change of the held assignment; must not block. */
    void onChange(Runnable listener) {
        listeners.add(listener);
    }

    void taken(WorkerStatus.Assignment assignment) {
        current.set(assignment);
        listeners.forEach(Runnable::run);
    }

    void released() {
        current.set(null);
        listeners.forEach(Runnable::run);
    }

    /** The assignment being worked on, or null when idle. */
    WorkerStatus.Assignment current() {
        return current.get();
    }
}
