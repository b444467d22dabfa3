package io.forgequeue.forgesim;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * Forge's task bookkeeping for {@code force_task_id} ({@code modules/progress.py}): a call is added to the pending
 * tasks before it waits for the queue lock, becomes the current task once it holds the lock, and is recorded as
 * finished when it ends normally. A call that fails never finishes, so its id stays current until the next task
 * starts (forge-api.md §5). {@code POST /internal/progress} and {@code GET /internal/pending-tasks} read it.
 * Thread-safe (synchronized).
 */
final class TaskQueue {

    private static final int FINISHED_KEPT = 16;

    private static final String ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

    private final Map<String, Long> pending = new LinkedHashMap<>();

    private final Deque<String> finished = new ArrayDeque<>();

    private String current;

    /** Forge's {@code create_task_id}: {@code task(<type>-XXXXXXX)}. */
    static String newTaskId(String type) {
        StringBuilder sb = new StringBuilder("task(").append(type).append('-');
        for (int i = 0; i < 7; i++) {
            sb.append(ID_CHARS.charAt(ThreadLocalRandom.current().nextInt(ID_CHARS.length())));
        }
        return sb.append(')').toString();
    }

    /** {@code add_task_to_queue}: the call arrived and waits for the lock. */
    synchronized void add(String id) {
        pending.put(id, System.nanoTime());
    }

    /** {@code start_task}: the call holds the lock. */
    synchronized void start(String id) {
        current = id;
        pending.remove(id);
    }

    /** {@code finish_task}: the call ended normally. */
    synchronized void finish(String id) {
        if (id.equals(current)) {
            current = null;
        }
        finished.addLast(id);
        while (finished.size() > FINISHED_KEPT) {
            finished.removeFirst();
        }
    }

    /** A call that never reached the lock was abandoned (the sim went down or stops). */
    synchronized void forget(String id) {
        pending.remove(id);
    }

    /** Forgets everything, as a restarted Forge process would. */
    synchronized void reset() {
        pending.clear();
        finished.clear();
        current = null;
    }

    synchronized String current() {
        return current;
    }

    synchronized boolean isActive(String id) {
        return id != null && id.equals(current);
    }

    synchronized boolean isQueued(String id) {
        return pending.containsKey(id);
    }

    synchronized boolean isCompleted(String id) {
        return finished.contains(id);
    }

    /** "In queue: i/n" for a queued task (ordered by arrival), else "Waiting...". */
    synchronized String queueText(String id) {
        List<String> order = new ArrayList<>(pending.keySet());
        int index = order.indexOf(id);
        return index < 0 ? "Waiting..." : "In queue: " + (index + 1) + "/" + order.size();
    }

    /** GET /internal/pending-tasks: {@code {size, tasks[]}}. */
    synchronized ObjectNode pendingTasks() {
        ObjectNode body = Json.object();
        body.put("size", pending.size());
        ArrayNode tasks = body.putArray("tasks");
        pending.keySet().forEach(tasks::add);
        return body;
    }
}
