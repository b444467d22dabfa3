package io.forgequeue.gateway;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import tools.jackson.databind.JsonNode;

/** A WebSocket client for the gateway's /ws protocol: sends JSON frames, collects received frames. */
final class WsClient implements AutoCloseable {

    private final LinkedBlockingQueue<JsonNode> frames = new LinkedBlockingQueue<>();
    private final List<JsonNode> seen = new ArrayList<>();
    private final CompletableFuture<Integer> closed = new CompletableFuture<>();
    private final WebSocket socket;

    private WsClient(int port, String authorizationHeader) {
        WebSocket.Builder builder =
                HttpClient.newHttpClient().newWebSocketBuilder().connectTimeout(Duration.ofSeconds(5));
        if (authorizationHeader != null) {
            builder.header("Authorization", authorizationHeader);
        }
        this.socket = builder.buildAsync(URI.create("ws://127.0.0.1:" + port + "/ws"), new Listener())
                .join();
    }

    static WsClient connect(int port) {
        return new WsClient(port, null);
    }

    /** Connects with the key in the handshake's Authorization header (non-browser clients). */
    static WsClient withHeader(int port, String apiKey) {
        return new WsClient(port, "Bearer " + apiKey);
    }

    /** Connects and authenticates with the auth frame; waits for "authenticated". */
    static WsClient authenticated(int port, String apiKey) {
        WsClient client = new WsClient(port, null);
        client.send("{\"type\":\"auth\",\"apiKey\":\"" + apiKey + "\"}");
        client.next(f -> "authenticated".equals(f.path("type").asString()));
        return client;
    }

    void send(String frame) {
        socket.sendText(frame, true).join();
    }

    /**
     * Sends {@code frame} unless the server has closed the connection (the client then answers the close and its
     * output is closed); false in that case.
     */
    boolean sendUnlessClosed(String frame) {
        if (socket.isOutputClosed()) {
            return false;
        }
        try {
            send(frame);
            return true;
        } catch (java.util.concurrent.CompletionException e) {
            if (socket.isOutputClosed()) {
                return false;
            }
            throw e;
        }
    }

    void subscribe(java.util.UUID jobId) {
        send("{\"type\":\"subscribe\",\"jobId\":\"" + jobId + "\"}");
    }

    /** The next frame matching {@code match} (earlier non-matching ones are skipped); fails after 10 s. */
    JsonNode next(Predicate<JsonNode> match) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        try {
            while (true) {
                long left = deadline - System.nanoTime();
                JsonNode frame = left <= 0 ? null : frames.poll(left, TimeUnit.NANOSECONDS);
                if (frame == null) {
                    throw new AssertionError("no matching frame within 10 s; received so far: " + seen);
                }
                if (match.test(frame)) {
                    return frame;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    JsonNode nextOfType(String type) {
        return next(f -> type.equals(f.path("type").asString()));
    }

    /** Every frame received so far (in order). */
    synchronized List<JsonNode> seen() {
        return List.copyOf(seen);
    }

    /** The close code, waiting up to {@code seconds}. */
    int closeCode(int seconds) {
        return closed.orTimeout(seconds, TimeUnit.SECONDS).join();
    }

    @Override
    public void close() {
        if (!socket.isOutputClosed()) {
            socket.sendClose(WebSocket.NORMAL_CLOSURE, "bye");
        }
        socket.abort();
    }

    private final class Listener implements WebSocket.Listener {
        private final StringBuilder buffer = new StringBuilder();

        @Override
        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
            buffer.append(data);
            if (last) {
                JsonNode frame = Api.JSON.readTree(buffer.toString());
                buffer.setLength(0);
                synchronized (WsClient.this) {
                    seen.add(frame);
                }
                frames.add(frame);
            }
            webSocket.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
            closed.complete(statusCode);
            return null;
        }

        @Override
        public void onError(WebSocket webSocket, Throwable error) {
            closed.completeExceptionally(error);
        }
    }
}
