package io.forgequeue.bench;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import tools.jackson.databind.JsonNode;

/**
 * A WebSocket client of the gateway's relay (api-gateway/PROTOCOL.md), authenticated with the Authorization header
 * on the handshake. Every frame is stamped with the wall clock and {@code nanoTime} when its last fragment arrived,
 * before it is parsed, and handed to the {@link Handler} on the client's delivery thread.
 */
final class WsClient implements AutoCloseable {

    /** Receives every frame of one client, in order. */
    interface Handler {
        void onFrame(WsClient client, JsonNode frame, Instant receivedAt, long receivedNanos);
    }

    private final int index;
    private final Handler handler;
    private volatile WebSocket socket;
    private volatile boolean closed;

    private WsClient(int index, Handler handler) {
        this.index = index;
        this.handler = handler;
    }

    /** Starts connecting; the future completes once the handshake is done. */
    static CompletableFuture<WsClient> connect(
            HttpClient http, String gatewayBaseUrl, String apiKey, int index, Handler handler) {
        WsClient client = new WsClient(index, handler);
        URI uri = URI.create(gatewayBaseUrl.replaceFirst("^http", "ws") + "/ws");
        return http.newWebSocketBuilder()
                .connectTimeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + apiKey)
                .buildAsync(uri, client.new Listener())
                .thenApply(ws -> {
                    client.socket = ws;
                    return client;
                });
    }

    int index() {
        return index;
    }

    boolean isClosed() {
        return closed;
    }

    CompletableFuture<WebSocket> send(Map<String, Object> frame) {
        return socket.sendText(Json.MAPPER.writeValueAsString(frame), true);
    }

    void subscribe(Object jobId) {
        send(Map.of("type", "subscribe", "jobId", jobId.toString()))
                .orTimeout(30, TimeUnit.SECONDS)
                .join();
    }

    void subscribeAll() {
        send(Map.of("type", "subscribe", "scope", "all"))
                .orTimeout(30, TimeUnit.SECONDS)
                .join();
    }

    @Override
    public void close() {
        if (!closed && socket != null) {
            closed = true;
            socket.sendClose(WebSocket.NORMAL_CLOSURE, "bye")
                    .orTimeout(5, TimeUnit.SECONDS)
                    .exceptionally(e -> null);
        }
    }

    void abort() {
        closed = true;
        if (socket != null) {
            socket.abort();
        }
    }

    private final class Listener implements WebSocket.Listener {
        private StringBuilder partial;

        @Override
        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
            if (!last || partial != null) {
                if (partial == null) {
                    partial = new StringBuilder();
                }
                partial.append(data);
            }
            if (last) {
                long nanos = System.nanoTime();
                Instant at = Instant.now();
                CharSequence text = partial != null ? partial : data;
                partial = null;
                try {
                    handler.onFrame(WsClient.this, Json.MAPPER.readTree(text.toString()), at, nanos);
                } catch (RuntimeException e) {
                    System.err.println("ws client " + index + ": frame handler failed: " + e);
                }
            }
            webSocket.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
            closed = true;
            return null;
        }

        @Override
        public void onError(WebSocket webSocket, Throwable error) {
            closed = true;
        }
    }
}
