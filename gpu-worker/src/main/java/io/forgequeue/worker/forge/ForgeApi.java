package io.forgequeue.worker.forge;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SSLContext;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The raw Forge HTTP calls, each mapped to a result or a {@link ForgeException}; no retries here.
 *
 * <p>Two HTTP clients, so that polling never waits behind the long txt2img connection (forge-api.md §2, §11.3):
 * {@code jobHttp} carries only txt2img; {@code controlHttp} carries progress, task progress, interrupt and health
 * probes. Both
 * have the connect timeout; each request has its own read timeout (txt2img: the call timeout; the others: the
 * poll timeout). Every request carries Basic auth when credentials are configured (§11.10). Thread-safe.
 */
final class ForgeApi {

    static final String TXT2IMG = "txt2img";
    static final String PROGRESS = "progress";
    static final String INTERRUPT = "interrupt";
    static final String TASK_PROGRESS = "task_progress";
    static final String OPTIONS = "options";
    static final Duration TXT2IMG_BACKSTOP = Duration.ofSeconds(1);

    private final HttpClient jobHttp;
    private final HttpClient controlHttp;
    private final URI base;
    private final String authorization;
    private final Duration callTimeout;
    private final Duration pollTimeout;
    private final JsonMapper json;

    /** @param tls the TLS context of an {@code https://} Forge; null: the JDK's default (ignored for http) */
    ForgeApi(ForgeProperties props, JsonMapper json, SSLContext tls) {
        this.jobHttp = newClient(props.connectTimeout(), tls);
        this.controlHttp = newClient(props.connectTimeout(), tls);
        String url = props.url().toString();
        this.base = URI.create(url.endsWith("/") ? url : url + "/");
        this.authorization = props.hasCredentials()
                ? "Basic "
                        + Base64.getEncoder()
                                .encodeToString(
                                        (props.username() + ":" + (props.password() == null ? "" : props.password()))
                                                .getBytes(StandardCharsets.UTF_8))
                : null;
        this.callTimeout = props.callTimeout();
        this.pollTimeout = props.pollTimeout();
        this.json = json;
    }

    /**
     * Forge (uvicorn) speaks HTTP/1.1; no h2c upgrade attempts, no redirects. The client's own selector thread
     * completes each exchange ({@code executor(Runnable::run)}) instead of handing the answer to a pool thread
     * first: the calls are blocking {@code send}s whose body handler only collects bytes, so nothing runs on the
     * selector thread that could hold it up, and the answer reaches the waiting thread one thread hand-off sooner
     * (under load every hand-off waits for a core). That time is part of the GPU's idle gap between two jobs.
     * Over HTTPS the JDK client verifies the certificate chain against {@code tls}'s trust material and the host name
     * against the certificate's names.
     */
    private static HttpClient newClient(Duration connectTimeout, SSLContext tls) {
        HttpClient.Builder builder = HttpClient.newBuilder()
                .executor(Runnable::run)
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(connectTimeout)
                .followRedirects(HttpClient.Redirect.NEVER);
        if (tls != null) {
            builder.sslContext(tls);
        }
        return builder.build();
    }

    /** Raw answer of txt2img: the base64 images and the {@code info} field (still a JSON string). */
    record RawResult(List<String> images, JsonNode info) {}

    /**
     * POST /sdapi/v1/txt2img: blocks until Forge has finished the whole job. The call timeout itself is enforced
     * by the caller's Failsafe {@code Timeout} (which interrupts this thread); the request's own timeout is a
     * backstop {@link #TXT2IMG_BACKSTOP} later, so that the two never race and a timed-out call always ends the
     * same way.
     */
    RawResult txt2img(Txt2ImgRequest request) {
        byte[] body = json.writeValueAsBytes(request);
        HttpRequest http = request("sdapi/v1/txt2img", callTimeout.plus(TXT2IMG_BACKSTOP))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body))
                .build();
        byte[] answer = send(jobHttp, http, TXT2IMG);
        JsonNode root;
        try {
            root = json.readTree(answer);
        } catch (RuntimeException e) {
            throw ForgeErrors.badResponse(TXT2IMG, "not JSON", e);
        }
        if (root == null || !root.isObject()) {
            throw ForgeErrors.badResponse(TXT2IMG, "not a JSON object", null);
        }
        List<String> images = new ArrayList<>();
        JsonNode list = root.get("images");
        if (list != null && list.isArray()) {
            for (JsonNode image : list) {
                images.add(image.isString() ? image.asString() : null);
            }
        }
        return new RawResult(images, root.get("info"));
    }

    /** GET /sdapi/v1/progress; {@code withImage} asks for the live preview (costs bandwidth). */
    ProgressSnapshot progress(boolean withImage) {
        HttpRequest http = request("sdapi/v1/progress?skip_current_image=" + !withImage, pollTimeout)
                .GET()
                .build();
        byte[] answer = send(controlHttp, http, PROGRESS);
        try {
            JsonNode root = json.readTree(answer);
            if (root == null || !root.isObject()) {
                throw ForgeErrors.badResponse(PROGRESS, "not a JSON object", null);
            }
            return ProgressSnapshot.parse(root);
        } catch (ForgeException e) {
            throw e;
        } catch (RuntimeException e) {
            throw ForgeErrors.badResponse(PROGRESS, "not JSON", e);
        }
    }

    /**
     * POST /internal/progress for one {@code force_task_id} (WebUI mode only: without it Forge answers 404, which
     * surfaces as {@link ForgeFailure#API_MISSING}). Not behind {@code --api-auth} in Forge; the header is sent anyway.
     *
     * @param knownPreviewId the id of the last preview received for this task (-1: none), so that only a newer one
     *                       comes back
     * @param withPreview    whether to ask for the live preview at all
     */
    TaskProgress taskProgress(String taskId, int knownPreviewId, boolean withPreview) {
        byte[] body = json.writeValueAsBytes(
                Map.of("id_task", taskId, "id_live_preview", knownPreviewId, "live_preview", withPreview));
        HttpRequest http = request("internal/progress", pollTimeout)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body))
                .build();
        byte[] answer = send(controlHttp, http, TASK_PROGRESS);
        try {
            JsonNode root = json.readTree(answer);
            if (root == null || !root.isObject()) {
                throw ForgeErrors.badResponse(TASK_PROGRESS, "not a JSON object", null);
            }
            return TaskProgress.parse(root);
        } catch (ForgeException e) {
            throw e;
        } catch (RuntimeException e) {
            throw ForgeErrors.badResponse(TASK_PROGRESS, "not JSON", e);
        }
    }

    /** GET of a small JSON document (the catalog lists: samplers, schedulers, sd-models). */
    JsonNode getJson(String path) {
        byte[] answer = send(controlHttp, request(path, pollTimeout).GET().build(), path);
        try {
            return json.readTree(answer);
        } catch (RuntimeException e) {
            throw ForgeErrors.badResponse(path, "not JSON", e);
        }
    }

    /**
     * POST /sdapi/v1/options with {@code options} (forge-api.md §7). Forge only records a checkpoint as selected and
     * loads it with the next generation; A1111 loads it during this request, so its read timeout is the call
     * timeout. An unknown checkpoint is a 500 ({@code RuntimeError "model 'x' not found"}).
     */
    void setOptions(Map<String, Object> options) {
        HttpRequest http = request("sdapi/v1/options", callTimeout)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(json.writeValueAsBytes(options)))
                .build();
        send(controlHttp, http, OPTIONS);
    }

    /** POST /sdapi/v1/interrupt: stops whatever job Forge is running (it has no task id). */
    void interrupt() {
        HttpRequest http = request("sdapi/v1/interrupt", pollTimeout)
                .POST(HttpRequest.BodyPublishers.noBody())
                .build();
        send(controlHttp, http, INTERRUPT);
    }

    private HttpRequest.Builder request(String path, Duration readTimeout) {
        HttpRequest.Builder b =
                HttpRequest.newBuilder(base.resolve(path)).timeout(readTimeout).header("Accept", "application/json");
        if (authorization != null) {
            b.header("Authorization", authorization);
        }
        return b;
    }

    private byte[] send(HttpClient client, HttpRequest http, String call) {
        HttpResponse<byte[]> response;
        try {
            response = client.send(http, HttpResponse.BodyHandlers.ofByteArray());
        } catch (InterruptedException e) {
            // The Failsafe timeout interrupts this thread; JDK 16+ then cancels the exchange (drops the
            // connection). Forge keeps generating: the caller must let it settle before the next txt2img.
            Thread.currentThread().interrupt();
            throw ForgeErrors.interrupted(call, e);
        } catch (IOException e) {
            throw ForgeErrors.fromIo(call, e, true);
        }
        if (response.statusCode() / 100 != 2) {
            throw ForgeErrors.fromResponse(call, response.statusCode(), response.body(), json);
        }
        return response.body();
    }
}
