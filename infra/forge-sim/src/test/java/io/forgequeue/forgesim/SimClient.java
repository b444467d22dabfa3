package io.forgequeue.forgesim;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.concurrent.CompletableFuture;
import javax.imageio.ImageIO;
import tools.jackson.databind.JsonNode;

/** Test-side HTTP client for a sim's Forge API (plain java.net.http, as a real client would use). */
final class SimClient {

    record Reply(int status, HttpHeaders headers, String text) {

        JsonNode json() {
            return Json.MAPPER.readTree(text);
        }

        /** Forge's info string, parsed the second time. */
        JsonNode info() {
            return Json.MAPPER.readTree(json().get("info").stringValue());
        }

        byte[] imageBytes(int index) {
            return Base64.getDecoder().decode(json().get("images").get(index).stringValue());
        }

        BufferedImage image(int index) {
            try {
                return ImageIO.read(new ByteArrayInputStream(imageBytes(index)));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        int imageCount() {
            return json().get("images").size();
        }
    }

    private final URI base;

    private final HttpClient http;

    private final String authorization;

    SimClient(URI base) {
        this(base, null);
    }

    SimClient(URI base, String authorization) {
        this.base = base;
        this.authorization = authorization;
        this.http =
                HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    }

    SimClient withBasicAuth(String user, String password) {
        return new SimClient(
                base,
                "Basic "
                        + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8)));
    }

    SimClient withAuthorization(String header) {
        return new SimClient(base, header);
    }

    Reply get(String path) {
        return send(request(path).GET().build());
    }

    Reply post(String path, String json) {
        return send(request(path)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json))
                .build());
    }

    Reply txt2img(String json) {
        return post("/sdapi/v1/txt2img", json);
    }

    CompletableFuture<Reply> txt2imgAsync(String json) {
        HttpRequest request = request("/sdapi/v1/txt2img")
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json))
                .build();
        return http.sendAsync(request, HttpResponse.BodyHandlers.ofString())
                .thenApply(r -> new Reply(r.statusCode(), r.headers(), r.body()));
    }

    JsonNode progress() {
        Reply reply = get("/sdapi/v1/progress?skip_current_image=true");
        if (reply.status() != 200) {
            throw new IllegalStateException("progress answered " + reply.status() + ": " + reply.text());
        }
        return reply.json();
    }

    Reply send(HttpRequest request) {
        try {
            HttpResponse<String> r = http.send(request, HttpResponse.BodyHandlers.ofString());
            return new Reply(r.statusCode(), r.headers(), r.body());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    HttpRequest.Builder request(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(30));
        if (authorization != null) {
            b.header("Authorization", authorization);
        }
        return b;
    }
}
