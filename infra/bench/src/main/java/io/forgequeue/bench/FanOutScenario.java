package io.forgequeue.bench;

import java.net.http.HttpClient;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import tools.jackson.databind.JsonNode;

/**
 * WebSocket fan-out: N concurrent clients connected to one gateway, each watching one of a few jobs (so every event
 * of a job goes to N / jobs clients at once). Latency is from the worker's emit (the event's timestamp, which the
 * job carries as startedAt / finishedAt) to the client's receipt; the gateway's memory is read with N clients
 * connected.
 */
final class FanOutScenario {

    private FanOutScenario() {}

    static ScenarioResult run(BenchContext ctx, BenchSystem system, int clients) {
        BenchOptions o = ctx.options();
        int jobsPerRound = Math.max(1, Math.min(o.fanoutJobs(), clients));
        ScenarioResult r = new ScenarioResult("fanout", system.jars().label());
        long gatewayPid = system.gateway().pid();
        long rssBefore = ProcStats.rssBytes(gatewayPid);
        double heapBefore = liveHeap(system);

        State state = new State(clients);
        int httpClients = Math.max(1, (clients + 999) / 1000);
        List<ExecutorService> executors = new ArrayList<>();
        List<HttpClient> https = new ArrayList<>();
        for (int i = 0; i < httpClients; i++) {
            ExecutorService ex = Executors.newFixedThreadPool(2, runnable -> {
                Thread t = new Thread(runnable, "ws-client");
                t.setDaemon(true);
                return t;
            });
            executors.add(ex);
            https.add(HttpClient.newBuilder().executor(ex).build());
        }
        List<WsClient> sockets = new ArrayList<>(clients);
        try {
            long c0 = System.nanoTime();
            for (int from = 0; from < clients; from += 100) {
                List<CompletableFuture<WsClient>> batch = new ArrayList<>();
                for (int i = from; i < Math.min(clients, from + 100); i++) {
                    batch.add(WsClient.connect(
                            https.get(i % httpClients),
                            system.gateway().baseUrl(),
                            system.apiKey(),
                            i,
                            state::onFrame));
                }
                for (CompletableFuture<WsClient> f : batch) {
                    sockets.add(f.orTimeout(60, TimeUnit.SECONDS).join());
                }
            }
            await(state.authenticated, Duration.ofSeconds(60), "authenticated frames");
            double connectSeconds = (System.nanoTime() - c0) / 1e9;
            long rssConnected = ProcStats.rssBytes(gatewayPid);
            double heapConnected = liveHeap(system);
            classHistogram(
                    system, ctx.logDir().resolve("heap-" + system.jars().label() + "-" + clients + "-clients.txt"));
            long rssPeak = rssConnected;

            for (int round = 0; round < o.fanoutRounds(); round++) {
                system.stepTime(Duration.ofSeconds(1)); // holds the queue while the clients subscribe
                List<UUID> ids = new ArrayList<>();
                for (int j = 0; j < jobsPerRound; j++) {
                    GatewayClient.Submitted s = system.api()
                            .submitAsync(GatewayClient.job("fanout " + round + " " + j, 5), system.apiKey())
                            .join();
                    if (!s.accepted()) {
                        throw new IllegalStateException("submission refused: " + s.status() + " " + s.body());
                    }
                    ids.add(s.jobId());
                }
                state.newRound(ids);
                List<CompletableFuture<?>> subs = new ArrayList<>();
                for (WsClient c : sockets) {
                    UUID id = ids.get(c.index() % ids.size());
                    state.watched.set(c.index(), id);
                    subs.add(c.send(Map.of("type", "subscribe", "jobId", id.toString())));
                }
                subs.forEach(f -> f.orTimeout(60, TimeUnit.SECONDS).join());
                await(state.snapshots, Duration.ofSeconds(120), "snapshots");
                system.stepTime(Duration.ofMillis(20));
                await(state.terminals, Duration.ofSeconds(180), "terminal updates");
                rssPeak = Math.max(rssPeak, ProcStats.rssBytes(gatewayPid));
            }
            double heapAfter = liveHeap(system);

            String n = clients + " clients";
            r.figure(Figure.of(
                    "fanout", "update latency p50, " + n, Latency.round3(state.terminalLatency.millis(50)), "ms"));
            r.figure(Figure.of(
                    "fanout", "update latency p99, " + n, Latency.round3(state.terminalLatency.millis(99)), "ms"));
            r.figure(Figure.of("fanout", "gateway RSS, " + n, mb(rssPeak), "MB"));
            r.detail("clients", clients);
            r.detail("jobsPerRound", jobsPerRound);
            r.detail("rounds", o.fanoutRounds());
            r.detail("connectSeconds", DutyScenario.round(connectSeconds, 2));
            r.detail("terminalUpdateLatency", state.terminalLatency.summary());
            r.detail("runningUpdateLatency", state.runningLatency.summary());
            r.detail("framesReceived", state.frames.get());
            r.detail("positionFrames", state.positions.get());
            r.detail(
                    "gatewayRssMb",
                    Map.of("before", mb(rssBefore), "connected", mb(rssConnected), "peak", mb(rssPeak)));
            Map<String, Object> heap = new LinkedHashMap<>();
            heap.put("before", heapBefore);
            heap.put("connected", heapConnected);
            heap.put("afterRounds", heapAfter);
            heap.put("perThousandClientsMb", DutyScenario.round((heapConnected - heapBefore) / clients * 1000, 2));
            r.detail("gatewayLiveHeapMbAfterGc", heap);
            System.out.printf(
                    "  fan-out %d clients: connected in %.1f s; update latency p50 %.1f ms p99 %.1f ms (RUNNING p99 %.1f ms);"
                            + " gateway RSS %.0f -> %.0f MB, live heap %.0f -> %.0f MB%n",
                    clients,
                    connectSeconds,
                    state.terminalLatency.millis(50),
                    state.terminalLatency.millis(99),
                    state.runningLatency.millis(99),
                    mb(rssBefore),
                    mb(rssPeak),
                    heapBefore,
                    heapConnected);
        } finally {
            sockets.forEach(WsClient::close);
            Sleep.millis(2000);
            sockets.forEach(WsClient::abort);
            executors.forEach(ExecutorService::shutdownNow);
        }
        return r;
    }

    /** Heap in use after a full GC of the gateway (jcmd GC.run), in MB; -1 when unavailable. */
    static double liveHeap(BenchSystem system) {
        try {
            Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
            new ProcessBuilder(jcmd.toString(), Long.toString(system.gateway().pid()), "GC.run")
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start()
                    .waitFor(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            return -1;
        }
        double bytes = system.api().metric("jvm.memory.used", "area:heap");
        return bytes < 0 ? -1 : DutyScenario.round(bytes / 1024 / 1024, 1);
    }

    /**
     * Where the gateway's live heap goes with the clients connected: {@code jcmd GC.class_histogram} (classes by
     * bytes, after a full GC) into {@code file}. Best effort.
     */
    static void classHistogram(BenchSystem system, Path file) {
        try {
            Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
            new ProcessBuilder(jcmd.toString(), Long.toString(system.gateway().pid()), "GC.class_histogram")
                    .redirectErrorStream(true)
                    .redirectOutput(file.toFile())
                    .start()
                    .waitFor(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            System.out.println("  (no class histogram: " + e + ")");
        }
    }

    static double mb(long bytes) {
        return DutyScenario.round(bytes / 1024.0 / 1024.0, 1);
    }

    private static void await(CountDownLatch latch, Duration timeout, String what) {
        try {
            if (!latch.await(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new IllegalStateException(
                        latch.getCount() + " clients still waiting for " + what + " after " + timeout);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** What every client saw, indexed by client. */
    private static final class State {
        final AtomicReferenceArray<UUID> watched;
        final AtomicReferenceArray<String> lastStatus;
        final boolean[] snapshotSeen;
        final boolean[] terminalSeen;
        final CountDownLatch authenticated;
        volatile CountDownLatch snapshots = new CountDownLatch(0);
        volatile CountDownLatch terminals = new CountDownLatch(0);
        final Latency terminalLatency = new Latency();
        final Latency runningLatency = new Latency();
        final AtomicLong frames = new AtomicLong();
        final AtomicLong positions = new AtomicLong();
        private final int clients;

        State(int clients) {
            this.clients = clients;
            watched = new AtomicReferenceArray<>(clients);
            lastStatus = new AtomicReferenceArray<>(clients);
            snapshotSeen = new boolean[clients];
            terminalSeen = new boolean[clients];
            authenticated = new CountDownLatch(clients);
        }

        synchronized void newRound(List<UUID> ids) {
            snapshots = new CountDownLatch(clients);
            terminals = new CountDownLatch(clients);
            java.util.Arrays.fill(snapshotSeen, false);
            java.util.Arrays.fill(terminalSeen, false);
        }

        void onFrame(WsClient client, JsonNode frame, Instant at, long nanos) {
            frames.incrementAndGet();
            int i = client.index();
            String type = frame.path("type").asString("");
            switch (type) {
                case "authenticated" -> authenticated.countDown();
                case "position" -> positions.incrementAndGet();
                case "snapshot", "update" -> {
                    JsonNode job = frame.path("job");
                    UUID id = UUID.fromString(job.path("id").asString());
                    if (!id.equals(watched.get(i))) {
                        return;
                    }
                    String status = job.path("status").asString("");
                    boolean terminal =
                            status.equals("SUCCEEDED") || status.equals("FAILED") || status.equals("CANCELLED");
                    synchronized (this) {
                        String previous = lastStatus.getAndSet(i, status);
                        if (type.equals("snapshot")) {
                            if (!snapshotSeen[i]) {
                                snapshotSeen[i] = true;
                                snapshots.countDown();
                            }
                        } else if (status.equals("RUNNING") && "QUEUED".equals(previous)) {
                            Instant started = Json.instant(job, "startedAt");
                            if (started != null) {
                                runningLatency.recordMicros(Json.micros(started, at));
                            }
                        } else if (terminal && !terminalSeen[i]) {
                            Instant finished = Json.instant(job, "finishedAt");
                            if (finished != null) {
                                terminalLatency.recordMicros(Json.micros(finished, at));
                            }
                        }
                        if (terminal && !terminalSeen[i]) {
                            terminalSeen[i] = true;
                            terminals.countDown();
                        }
                    }
                }
                default -> {}
            }
        }
    }
}
