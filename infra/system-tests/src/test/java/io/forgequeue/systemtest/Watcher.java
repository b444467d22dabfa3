package io.forgequeue.systemtest;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import tools.jackson.databind.JsonNode;

/**
 * A live client as PROTOCOL.md describes one: a WebSocket subscribed to all jobs of its key, which reconnects (to
 * whichever gateway is alive) with a backoff whenever the connection drops and resumes with the last version it saw
 * of every job not yet finished (and version 0 for jobs it was told about over REST but never saw). It keeps, per
 * job, the highest version and the status of that version, and every terminal state it was told; two different
 * terminal states for one job, or a change after a terminal state, are conflicts.
 */
final class Watcher implements AutoCloseable {

    private static final int MAX_RESUME = 200;

    /** What the client knows about one job. */
    static final class Seen {
        volatile long version = -1;
        volatile String status;
        volatile String terminal;
        volatile String errorCode;
    }

    private final String name;
    private final Supplier<List<String>> gatewayUrls;
    private final String apiKey;
    private final Supplier<Collection<String>> knownJobs;
    private final Map<String, Seen> seen = new ConcurrentHashMap<>();
    private final List<String> conflicts = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final AtomicInteger connects = new AtomicInteger();
    private final AtomicInteger serviceUnavailable = new AtomicInteger();
    private final Thread loop;
    private volatile boolean running = true;
    private volatile WsClient client;
    private volatile String connectedTo;
    private int processed;
    private long nextConnectAt;
    private long resubscribeAt = Long.MAX_VALUE;

    /**
     * @param gatewayUrls base URLs of the gateways to try, in order of preference (asked at every connect)
     * @param knownJobs   ids of jobs the client was told about over REST
     */
    Watcher(String name, Supplier<List<String>> gatewayUrls, String apiKey, Supplier<Collection<String>> knownJobs) {
        this.name = name;
        this.gatewayUrls = gatewayUrls;
        this.apiKey = apiKey;
        this.knownJobs = knownJobs;
        this.loop = new Thread(this::run, "watcher-" + name);
        loop.setDaemon(true);
        loop.start();
    }

    private void run() {
        while (running) {
            try {
                WsClient c = client;
                if (c == null || c.isClosed()) {
                    if (System.currentTimeMillis() >= nextConnectAt) {
                        connect();
                    }
                } else {
                    process(c);
                    if (System.currentTimeMillis() >= resubscribeAt) {
                        resubscribeAt = Long.MAX_VALUE;
                        c.subscribeAll(resumeVersions());
                    }
                }
            } catch (RuntimeException e) {
                WsClient c = client;
                if (c != null) {
                    c.abort();
                }
            }
            AppProcess.sleep(50);
        }
    }

    private void connect() {
        WsClient c = client;
        if (c != null) {
            process(c); // whatever arrived before the drop
        }
        client = null;
        for (String url : gatewayUrls.get()) {
            try {
                WsClient fresh = WsClient.connect(url, apiKey);
                if (fresh.frames().stream()
                        .noneMatch(f -> f.path("type").asString("").equals("authenticated"))) {
                    fresh.abort();
                    continue;
                }
                processed = 0;
                fresh.subscribeAll(resumeVersions());
                client = fresh;
                connectedTo = url;
                connects.incrementAndGet();
                return;
            } catch (RuntimeException e) {
                // that gateway is down: try the next
            }
        }
        nextConnectAt = System.currentTimeMillis() + 500;
    }

    /** Last version of every job not known to be finished; 0 for jobs known only from REST. */
    private Map<String, Long> resumeVersions() {
        Map<String, Long> versions = new LinkedHashMap<>();
        for (String id : knownJobs.get()) {
            Seen s = seen.get(id);
            if (s == null || s.terminal == null) {
                versions.put(id, s == null ? 0L : Math.max(0, s.version));
            }
            if (versions.size() >= MAX_RESUME) {
                break;
            }
        }
        return versions;
    }

    private void process(WsClient c) {
        List<JsonNode> frames = c.framesSince(processed);
        processed += frames.size();
        for (JsonNode f : frames) {
            String type = f.path("type").asString("");
            switch (type) {
                case "snapshot", "update" -> apply(f.path("job"));
                case "error" -> {
                    if ("service-unavailable".equals(f.path("code").asString(""))) {
                        serviceUnavailable.incrementAndGet();
                        resubscribeAt = System.currentTimeMillis() + 1000;
                    }
                }
                default -> {}
            }
        }
    }

    private void apply(JsonNode job) {
        String id = job.path("id").asString(null);
        if (id == null) {
            return;
        }
        long version = job.path("version").asLong();
        String status = job.path("status").asString();
        Seen s = seen.computeIfAbsent(id, k -> new Seen());
        synchronized (s) {
            if (version <= s.version) {
                return; // not newer than what this client has: ignored, as PROTOCOL.md asks of clients
            }
            if (s.terminal != null && !s.terminal.equals(status)) {
                conflicts.add(id + ": told " + s.terminal + ", later " + status + " (version " + version + ")");
            }
            s.version = version;
            s.status = status;
            if (Workload.isTerminal(status)) {
                if (s.terminal == null) {
                    s.terminal = status;
                    s.errorCode = job.path("error").path("code").asString(null);
                }
            }
        }
    }

    /** Waits until the client was told a terminal state of every job in {@code ids}; returns those it was not. */
    Set<String> awaitTerminal(Collection<String> ids, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            Set<String> missing = new TreeSet<>();
            for (String id : ids) {
                Seen s = seen.get(id);
                if (s == null || s.terminal == null) {
                    missing.add(id);
                }
            }
            if (missing.isEmpty() || System.nanoTime() > deadline) {
                return missing;
            }
            AppProcess.sleep(200);
        }
    }

    String name() {
        return name;
    }

    /** The terminal state this client was told for a job, or null. */
    String terminalOf(String id) {
        Seen s = seen.get(id);
        return s == null ? null : s.terminal;
    }

    Seen seen(String id) {
        return seen.get(id);
    }

    List<String> conflicts() {
        return new ArrayList<>(conflicts);
    }

    /** Successful connections (the first one included). */
    int connects() {
        return connects.get();
    }

    int serviceUnavailableErrors() {
        return serviceUnavailable.get();
    }

    String connectedTo() {
        return connectedTo;
    }

    @Override
    public void close() {
        running = false;
        try {
            loop.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        WsClient c = client;
        if (c != null) {
            c.close();
        }
    }
}
