package io.forgequeue.systemtest;

import tools.jackson.databind.JsonNode;

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

/** A WebSocket client of the gateway's relay (api-gateway/PROTOCOL.md) that records every frame it receives. */
final class WsClient implements AutoCloseable {

    private final List<JsonNode> frames = new CopyOnWriteArrayList<>();
    private final WebSocket socket;
    private volatile boolean closed;

    private WsClient(String gatewayBaseUrl) {
        URI uri = URI.create(gatewayBaseUrl.replaceFirst("^http", "ws") + "/ws");
        this.socket = HttpClient.newHttpClient().newWebSocketBuilder().connectTimeout(Duration.ofSeconds(5))
                .buildAsync(uri, new Listener()).orTimeout(10, TimeUnit.SECONDS).join();
    }

    /** Connects and authenticates with an auth frame, waiting for the server's answer. */
    static WsClient connect(String gatewayBaseUrl, String apiKey) {
        WsClient client = new WsClient(gatewayBaseUrl);
        client.send(Map.of("type", "auth", "apiKey", apiKey));
        client.await(f -> f.path("type").asString("").equals("authenticated")
                || f.path("type").asString("").equals("error"), Duration.ofSeconds(10));
        return client;
    }

    void send(Object frame) {
        socket.sendText(Http.JSON.writeValueAsString(frame), true).orTimeout(5, TimeUnit.SECONDS).join();
    }

    void subscribe(Object jobId, Long version) {
        if (version == null) {
            send(Map.of("type", "subscribe", "jobId", jobId.toString()));
        } else {
            send(Map.of("type", "subscribe", "jobId", jobId.toString(), "version", version));
        }
    }

    /** Every frame received so far, in order. */
    List<JsonNode> frames() {
        return new ArrayList<>(frames);
    }

    /** Frames about one job (snapshot/update frames carry {@code job.id}, the others {@code jobId}). */
    List<JsonNode> framesFor(Object jobId) {
        String id = jobId.toString();
        return frames().stream().filter(f -> id.equals(f.path("jobId").asString(null))
                || id.equals(f.path("job").path("id").asString(null))).toList();
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

    boolean isClosed() {
        return closed;
    }

    /** Drops the connection abruptly (no close handshake), as a lost network would. */
    void abort() {
        socket.abort();
        closed = true;
    }

    @Override
    public void close() {
        if (!closed) {
            socket.sendClose(WebSocket.NORMAL_CLOSURE, "bye").orTimeout(5, TimeUnit.SECONDS).exceptionally(e -> null).join();
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
            closed = true;
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public void onError(WebSocket webSocket, Throwable error) {
            closed = true;
        }
    }
}
