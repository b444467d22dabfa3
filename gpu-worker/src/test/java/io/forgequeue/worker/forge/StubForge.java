package io.forgequeue.worker.forge;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * A tiny in-process HTTP server standing in for Forge in unit tests of the client: each path answers with a
 * scripted sequence of responses (the last one repeats), and every request is recorded.
 */
final class StubForge implements AutoCloseable {

    /** One scripted answer; {@code delayMillis} before answering (to provoke timeouts). */
    record Answer(int status, String body, long delayMillis) {
        static Answer ok(String body) {
            return new Answer(200, body, 0);
        }
    }

    /** One received request. */
    record Request(String method, String path, String authorization, String body) {}

    private final HttpServer server;
    private final ExecutorService executor = Executors.newCachedThreadPool();
    private final Map<String, List<Answer>> scripts = new ConcurrentHashMap<>();
    private final List<Request> requests = new CopyOnWriteArrayList<>();
    private final Map<String, CountDownLatch> gates = new ConcurrentHashMap<>();

    StubForge() {
        try {
            server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        server.setExecutor(executor);
        server.createContext("/", this::handle);
        server.start();
        answer("/sdapi/v1/progress", Answer.ok(progress(0)));
        answer("/sdapi/v1/interrupt", Answer.ok("{}"));
    }

    /** GET /progress of an API txt2img of 10 steps at step 5 ({@code jobCount} 1), or idle after it (0). */
    static String progress(int jobCount) {
        return "{\"progress\":0.5,\"eta_relative\":1.0,\"state\":{\"skipped\":false,\"interrupted\":false,"
                + "\"job\":\"" + (jobCount == 0 ? "" : "scripts_txt2img") + "\",\"job_count\":" + jobCount
                + ",\"job_timestamp\":\"20250101120000\",\"job_no\":0,\"sampling_step\":5,\"sampling_steps\":10},"
                + "\"current_image\":null,\"textinfo\":null}";
    }

    /** POST /internal/progress (WebUI mode) for a task that is {@code active} or waits in the queue. */
    static String taskProgress(boolean active) {
        return active
                ? "{\"active\":true,\"queued\":false,\"completed\":false,\"progress\":0.5,\"eta\":1.0,"
                        + "\"live_preview\":null,\"id_live_preview\":-1,\"textinfo\":null}"
                : "{\"active\":false,\"queued\":true,\"completed\":false,\"progress\":null,\"eta\":null,"
                        + "\"live_preview\":null,\"id_live_preview\":-1,\"textinfo\":\"In queue: 1/1\"}";
    }

    static String txt2img(String... base64Images) {
        StringBuilder images = new StringBuilder();
        for (String image : base64Images) {
            images.append(images.isEmpty() ? "" : ",").append('"').append(image).append('"');
        }
        return "{\"images\":[" + images + "],\"parameters\":{},\"info\":\"{\\\"seed\\\": 5, \\\"all_seeds\\\": [5],"
                + " \\\"index_of_first_image\\\": 0, \\\"sd_model_name\\\": \\\"stub\\\","
                + " \\\"job_timestamp\\\": \\\"20250101120000\\\"}\"}";
    }

    /** A txt2img answer with one image whose {@code info} reports that {@code modelName} ({@code modelHash}) ran. */
    static String txt2imgRan(String modelName, String modelHash, String base64Image) {
        return "{\"images\":[\"" + base64Image + "\"],\"parameters\":{},\"info\":\"{\\\"seed\\\": 5, "
                + "\\\"all_seeds\\\": [5], \\\"index_of_first_image\\\": 0, \\\"sd_model_name\\\": \\\""
                + modelName + "\\\", \\\"sd_model_hash\\\": \\\"" + modelHash
                + "\\\", \\\"job_timestamp\\\": \\\"20250101120000\\\"}\"}";
    }

    URI url() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    /** Answers for a path, in order; the last one repeats. */
    void answer(String path, Answer... answers) {
        scripts.put(path, new CopyOnWriteArrayList<>(List.of(answers)));
    }

    /** Requests for {@code path} are recorded at once but answered only after the returned latch is counted down. */
    CountDownLatch hold(String path) {
        CountDownLatch gate = new CountDownLatch(1);
        gates.put(path, gate);
        return gate;
    }

    List<Request> requests() {
        return List.copyOf(requests);
    }

    List<Request> requests(String path) {
        List<Request> out = new ArrayList<>();
        for (Request r : requests) {
            if (r.path().equals(path)) {
                out.add(r);
            }
        }
        return out;
    }

    private void handle(HttpExchange exchange) throws IOException {
        String path = exchange.getRequestURI().getPath();
        String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
        requests.add(new Request(
                exchange.getRequestMethod(), path, exchange.getRequestHeaders().getFirst("Authorization"), body));
        List<Answer> script = scripts.get(path);
        Answer answer;
        if (script == null || script.isEmpty()) {
            answer = new Answer(404, "{\"detail\":\"Not Found\"}", 0);
        } else {
            answer = script.size() > 1 ? script.remove(0) : script.get(0);
        }
        try {
            CountDownLatch gate = gates.get(path);
            if (gate != null && !gate.await(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("held answer for " + path + " never released");
            }
            if (answer.delayMillis() > 0) {
                Thread.sleep(answer.delayMillis());
            }
            byte[] bytes = answer.body().getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().add("Content-Type", "application/json");
            exchange.sendResponseHeaders(answer.status(), bytes.length);
            exchange.getResponseBody().write(bytes);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException e) {
            // the client hung up (a timeout in the test)
        } finally {
            exchange.close();
        }
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
