package io.forgequeue.systemtest;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import tools.jackson.databind.JsonNode;

/** A WebSocket client of the gateway's relay (api-gateway/PROTOCOL.md) that records every frame it receives. */
final class WsClient implements AutoCloseable {

    private final List<JsonNode> frames = new CopyOnWriteArrayList<>();
    private final WebSocket socket;
    private volatile boolean closed;
    private volatile int closeCode = -1;

    private WsClient(String gatewayBaseUrl, String handshakeKey) {
        URI uri = URI.create(gatewayBaseUrl.replaceFirst("^http", "ws") + "/ws");
        WebSocket.Builder builder =
                HttpClient.newHttpClient().newWebSocketBuilder().connectTimeout(Duration.ofSeconds(5));
        if (handshakeKey != null) {
            builder.header("Authorization", "Bearer " + handshakeKey);
        }
        this.socket = builder.buildAsync(uri, new Listener())
                .orTimeout(10, TimeUnit.SECONDS)
                .join();
    }

    /** Connects and authenticates with an auth frame, waiting for the server's answer. */
    static WsClient connect(String gatewayBaseUrl, String apiKey) {
        WsClient client = new WsClient(gatewayBaseUrl, null);
        client.send(Map.of("type", "auth", "apiKey", apiKey));
        client.await(
                f -> f.path("type").asString("").equals("authenticated")
                        || f.path("type").asString("").equals("error"),
                Duration.ofSeconds(10));
        return client;
    }

    /** Connects without authenticating at all (no header, no auth frame). */
    static WsClient open(String gatewayBaseUrl) {
        return new WsClient(gatewayBaseUrl, null);
    }

    /** Connects with {@code Authorization: Bearer <key>} on the handshake (non-browser clients). */
    static WsClient connectWithHeader(String gatewayBaseUrl, String apiKey) {
        return new WsClient(gatewayBaseUrl, apiKey);
    }

    void send(Object frame) {
        socket.sendText(Http.JSON.writeValueAsString(frame), true)
                .orTimeout(5, TimeUnit.SECONDS)
                .join();
    }

    void subscribe(Object jobId, Long version) {
        if (version == null) {
            send(Map.of("type", "subscribe", "jobId", jobId.toString()));
        } else {
            send(Map.of("type", "subscribe", "jobId", jobId.toString(), "version", version));
        }
    }

    /** Subscribes to all jobs of the key, resuming from the given versions (job id to last version seen). */
    void subscribeAll(Map<String, Long> versions) {
        send(Map.of("type", "subscribe", "scope", "all", "versions", versions));
    }

    /** Every frame received so far, in order. */
    List<JsonNode> frames() {
        return new ArrayList<>(frames);
    }

    /** Number of frames received so far. */
    int frameCount() {
        return frames.size();
    }

    /** The frames from index {@code from} (inclusive) on, in order. */
    List<JsonNode> framesSince(int from) {
        int size = frames.size();
        return from >= size ? List.of() : new ArrayList<>(frames.subList(from, size));
    }

    /** Frames about one job (snapshot/update frames carry {@code job.id}, the others {@code jobId}). */
    List<JsonNode> framesFor(Object jobId) {
        String id = jobId.toString();
        return frames().stream()
                .filter(f -> id.equals(f.path("jobId").asString(null))
                        || id.equals(f.path("job").path("id").asString(null)))
                .toList();
    }

    /** Waits until a frame matching {@code condition} has arrived and returns the first such frame. */
    JsonNode await(Predicate<JsonNode> condition, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            for (JsonNode f : frames) {
                if (condition.test(f)) {
                    return f;
                }
            }
            AppProcess.sleep(20);
        }
        throw new AssertionError("no matching frame within " + timeout + "; frames: " + frames);
    }

    /** Waits until the server has closed the connection; returns its close code (-1 if it did not close). */
    int awaitClose(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!closed && System.nanoTime() < deadline) {
            AppProcess.sleep(20);
        }
        return closeCode;
    }

    boolean isClosed() {
        return closed;
    }

    /** The close code the server sent, -1 while open or when the connection broke without one. */
    int closeCode() {
        return closeCode;
    }

    /** Drops the connection abruptly (no close handshake), as a lost network would. */
    void abort() {
        socket.abort();
        closed = true;
    }

    @Override
    public void close() {
        if (!closed) {
            try {
                socket.sendClose(WebSocket.NORMAL_CLOSURE, "bye")
                        .orTimeout(5, TimeUnit.SECONDS)
                        .exceptionally(e -> null)
                        .join();
            } catch (RuntimeException e) {
                socket.abort();
            }
            closed = true;
        }
    }

    private final class Listener implements WebSocket.Listener {
        private final StringBuilder partial = new StringBuilder();

        @Override
        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                frames.add(Http.JSON.readTree(partial.toString()));
                partial.setLength(0);
            }
            webSocket.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
            closeCode = statusCode;
            closed = true;
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public void onError(WebSocket webSocket, Throwable error) {
            closed = true;
        }
    }
}
