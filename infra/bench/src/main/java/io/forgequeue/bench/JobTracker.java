package io.forgequeue.bench;

import java.net.http.HttpClient;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import tools.jackson.databind.JsonNode;

/**
 * One WebSocket client per API key of the system, each subscribed to all jobs of its key, the way dashboards would
 * be: it tells when each job's terminal update reached a client (the end of the pipeline) and what the job looked
 * like then. A client the gateway closes (e.g. as too slow, PROTOCOL.md §5) is reconnected and re-subscribed; jobs
 * that finished meanwhile are then read over REST and marked {@code caughtUp} (their time of arrival is not
 * measured), and the reconnect is counted.
 */
final class JobTracker implements AutoCloseable {

    private static final Set<String> TERMINAL = Set.of("SUCCEEDED", "FAILED", "CANCELLED");

    /**
     * A job's first terminal frame as the client received it.
     *
     * @param receivedAt    wall clock at arrival (comparable with the job's timestamps: same machine)
     * @param receivedNanos {@code System.nanoTime()} at arrival
     * @param job           the job member of the frame
     * @param caughtUp      found over REST after a reconnect: the time of arrival is not a measurement
     */
    record Terminal(UUID id, String status, Instant receivedAt, long receivedNanos, JsonNode job, boolean caughtUp) {

        boolean succeeded() {
            return status.equals("SUCCEEDED");
        }
    }

    private final BenchSystem system;
    private final ConcurrentHashMap<UUID, CompletableFuture<Terminal>> terminals = new ConcurrentHashMap<>();
    private final AtomicLong terminalCount = new AtomicLong();
    private final AtomicLong frames = new AtomicLong();
    private final AtomicLong reconnects = new AtomicLong();
    private final HttpClient http = HttpClient.newHttpClient();
    private final List<WsClient> clients = new ArrayList<>();
    private final Thread watchdog;
    private volatile Consumer<Terminal> onTerminal;
    private volatile boolean open = true;

    private JobTracker(BenchSystem system) {
        this.system = system;
        List<String> keys = system.apiKeys();
        for (int i = 0; i < keys.size(); i++) {
            clients.add(connect(i));
        }
        watchdog = new Thread(this::watch, "tracker-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
    }

    static JobTracker open(BenchSystem system) {
        return new JobTracker(system);
    }

    private WsClient connect(int index) {
        CompletableFuture<Void> subscribed = new CompletableFuture<>();
        WsClient client = WsClient.connect(
                        http,
                        system.gateway().baseUrl(),
                        system.apiKeys().get(index),
                        index,
                        (c, frame, at, nanos) -> onFrame(frame, at, nanos, subscribed))
                .orTimeout(30, TimeUnit.SECONDS)
                .join();
        client.subscribeAll();
        subscribed.orTimeout(30, TimeUnit.SECONDS).join();
        return client;
    }

    private void watch() {
        while (open) {
            Sleep.millis(500);
            for (int i = 0; i < clients.size() && open; i++) {
                if (clients.get(i).isClosed()) {
                    reconnects.incrementAndGet();
                    System.err.println("  tracker: the gateway closed client " + i + "; reconnecting");
                    try {
                        clients.set(i, connect(i));
                        catchUp();
                    } catch (RuntimeException e) {
                        System.err.println("  tracker: reconnect failed: " + e);
                    }
                }
            }
        }
    }

    /** Reads over REST the jobs still awaited, completing those that finished while a client was away. */
    private void catchUp() {
        for (var entry : terminals.entrySet()) {
            if (entry.getValue().isDone()) {
                continue;
            }
            for (String key : system.apiKeys()) {
                JsonNode job = system.api().get("/api/v1/jobs/" + entry.getKey(), key);
                if (job != null) {
                    String status = job.path("status").asString("");
                    if (TERMINAL.contains(status)) {
                        complete(new Terminal(entry.getKey(), status, Instant.now(), System.nanoTime(), job, true));
                    }
                    break;
                }
            }
        }
    }

    private void onFrame(JsonNode frame, Instant at, long nanos, CompletableFuture<Void> subscribed) {
        frames.incrementAndGet();
        String type = frame.path("type").asString("");
        if (type.equals("subscribed")) {
            subscribed.complete(null);
            return;
        }
        if (!type.equals("update") && !type.equals("snapshot")) {
            return;
        }
        JsonNode job = frame.path("job");
        String status = job.path("status").asString("");
        if (TERMINAL.contains(status)) {
            UUID id = UUID.fromString(job.path("id").asString());
            complete(new Terminal(id, status, at, nanos, job, false));
        }
    }

    private void complete(Terminal t) {
        if (future(t.id()).complete(t)) {
            terminalCount.incrementAndGet();
            Consumer<Terminal> listener = onTerminal;
            if (listener != null) {
                listener.accept(t);
            }
        }
    }

    private CompletableFuture<Terminal> future(UUID id) {
        return terminals.computeIfAbsent(id, k -> new CompletableFuture<>());
    }

    /** Completes when the job's terminal update arrived (at once when it already did). */
    CompletableFuture<Terminal> terminal(UUID id) {
        return future(id);
    }

    /** Waits until every job has reached a terminal state; returns how many did not succeed. */
    long awaitAll(Collection<UUID> ids, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        long failed = 0;
        for (UUID id : ids) {
            long left = deadline - System.nanoTime();
            try {
                Terminal t = future(id).get(Math.max(1, left), TimeUnit.NANOSECONDS);
                if (!t.succeeded()) {
                    failed++;
                }
            } catch (java.util.concurrent.TimeoutException e) {
                throw new IllegalStateException("job " + id + " did not finish within " + timeout + " ("
                        + terminalCount.get() + " jobs finished so far)");
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
        return failed;
    }

    /** Also tells {@code listener} about every terminal update from now on (null: nobody). */
    void onTerminal(Consumer<Terminal> listener) {
        this.onTerminal = listener;
    }

    long terminalCount() {
        return terminalCount.get();
    }

    long frames() {
        return frames.get();
    }

    /** How often the gateway closed a tracker client (e.g. as too slow) so far. */
    long reconnects() {
        return reconnects.get();
    }

    /** Forgets finished jobs (keeps memory flat over long runs). */
    void forget(UUID id) {
        terminals.remove(id);
    }

    @Override
    public void close() {
        open = false;
        clients.forEach(WsClient::close);
    }
}
