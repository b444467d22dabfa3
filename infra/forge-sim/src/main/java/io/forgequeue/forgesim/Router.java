package io.forgequeue.forgesim;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.Deflater;
import java.util.zip.GZIPOutputStream;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;

/**
 * A minimal router for {@link com.sun.net.httpserver.HttpServer}, answering like FastAPI/Starlette does: 404
 * {@code {"detail":"Not Found"}}, 405 {@code {"detail":"Method Not Allowed"}} with {@code Allow}, 307 for a trailing
 * slash, {@link ApiError} bodies, gzip for bodies of 1000 bytes or more when asked for, and 500
 * {@code {"error": ...}} for anything unexpected.
 */
final class Router implements HttpHandler {

    private static final System.Logger LOG = System.getLogger("forge-sim");

    /** An incoming request, with its body already read. */
    record Request(
            String method,
            String path,
            Map<String, String> query,
            com.sun.net.httpserver.Headers headers,
            byte[] body) {

        String header(String name) {
            return headers.getFirst(name);
        }

        /**
         * The body as JSON, the way FastAPI reads a body parameter: null when empty; parsed when there is no
         * Content-Type or an application/json one; otherwise handed to validation as raw bytes (a string).
         */
        JsonNode json() {
            if (body.length == 0) {
                return null;
            }
            String contentType = header("Content-Type");
            if (contentType != null) {
                String main = contentType.split(";")[0].strip().toLowerCase();
                if (!main.equals("application/json") && !(main.startsWith("application/") && main.endsWith("+json"))) {
                    return Json.NODES.stringNode(new String(body, StandardCharsets.UTF_8));
                }
            }
            try {
                return Json.MAPPER.readTree(body);
            } catch (JacksonException e) {
                ArrayNode errors = Json.array();
                List<Object> loc = List.of(
                        "body",
                        e.getLocation() == null
                                ? 0
                                : (int) Math.max(0, e.getLocation().getCharOffset()));
                var error = Txt2ImgRequest.error("json_invalid", loc, "JSON decode error", Json.object());
                error.putObject("ctx").put("error", "Expecting value");
                errors.add(error);
                throw ApiError.validation(errors);
            }
        }
    }

    /** What a handler answers: a status, a JSON body (null for none) and extra headers. */
    record Response(int status, JsonNode body, Map<String, String> headers) {

        static Response json(JsonNode body) {
            return new Response(200, body, Map.of());
        }

        static Response json(int status, JsonNode body) {
            return new Response(status, body, Map.of());
        }
    }

    @FunctionalInterface
    interface Handler {

        Response handle(Request request) throws Exception;
    }

    /** Called before the handler of a route flagged as authenticated; returns an error to send, or null. */
    @FunctionalInterface
    interface Guard {

        ApiError check(Request request);
    }

    private record Route(Handler handler, boolean guarded) {}

    private final Map<String, Map<String, Route>> routes = new LinkedHashMap<>();

    private final Guard guard;

    Router(Guard guard) {
        this.guard = guard;
    }

    Router get(String path, boolean guarded, Handler handler) {
        return add("GET", path, guarded, handler);
    }

    Router post(String path, boolean guarded, Handler handler) {
        return add("POST", path, guarded, handler);
    }

    private Router add(String method, String path, boolean guarded, Handler handler) {
        routes.computeIfAbsent(path, p -> new LinkedHashMap<>()).put(method, new Route(handler, guarded));
        return this;
    }

    @Override
    public void handle(HttpExchange exchange) throws IOException {
        try {
            Request request = read(exchange);
            Response response = dispatch(request);
            write(exchange, request, response);
        } catch (Txt2ImgEngine.Aborted e) {
            // no answer: closing an exchange whose headers were never sent drops the connection
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "client connection failed: {0}", e.toString());
        } catch (RuntimeException e) {
            LOG.log(
                    System.Logger.Level.WARNING,
                    "could not answer " + exchange.getRequestMethod() + " " + exchange.getRequestURI(),
                    e);
        } finally {
            Thread.interrupted();
            exchange.close();
        }
    }

    private Response dispatch(Request request) {
        Map<String, Route> byMethod = routes.get(request.path());
        if (byMethod == null) {
            String trimmed = request.path().length() > 1 && request.path().endsWith("/")
                    ? request.path().substring(0, request.path().length() - 1)
                    : null;
            if (trimmed != null && routes.containsKey(trimmed)) {
                return new Response(307, null, Map.of("Location", trimmed));
            }
            return errorResponse(ApiError.http(404, "Not Found"));
        }
        Route route = byMethod.get(request.method());
        if (route == null) {
            return errorResponse(
                    ApiError.http(405, "Method Not Allowed", Map.of("Allow", String.join(", ", byMethod.keySet()))));
        }
        try {
            if (route.guarded() && guard != null) {
                ApiError rejected = guard.check(request);
                if (rejected != null) {
                    return errorResponse(rejected);
                }
            }
            return route.handler().handle(request);
        } catch (ApiError e) {
            return errorResponse(e);
        } catch (Txt2ImgEngine.Aborted e) {
            throw e;
        } catch (Exception e) {
            LOG.log(System.Logger.Level.WARNING, "unexpected error in " + request.method() + " " + request.path(), e);
            return errorResponse(ApiError.python(e.getClass().getSimpleName(), String.valueOf(e.getMessage())));
        }
    }

    private static Response errorResponse(ApiError e) {
        return new Response(e.status(), e.body(), e.headers());
    }

    private static Request read(HttpExchange exchange) throws IOException {
        byte[] body;
        try (InputStream in = exchange.getRequestBody()) {
            body = in.readAllBytes();
        }
        String rawQuery = exchange.getRequestURI().getRawQuery();
        Map<String, String> query = new TreeMap<>();
        if (rawQuery != null && !rawQuery.isEmpty()) {
            for (String pair : rawQuery.split("&")) {
                int eq = pair.indexOf('=');
                String key = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
                String value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
                query.putIfAbsent(key, value);
            }
        }
        return new Request(
                exchange.getRequestMethod(),
                exchange.getRequestURI().getPath(),
                query,
                exchange.getRequestHeaders(),
                body);
    }

    private static void write(HttpExchange exchange, Request request, Response response) throws IOException {
        byte[] body = response.body() == null ? new byte[0] : Json.bytes(response.body());
        var headers = exchange.getResponseHeaders();
        headers.set("server", "uvicorn");
        if (response.body() != null) {
            headers.set("content-type", "application/json");
        }
        response.headers().forEach(headers::set);
        String acceptEncoding = request.header("Accept-Encoding");
        if (body.length >= 1000
                && acceptEncoding != null
                && acceptEncoding.toLowerCase().contains("gzip")) {
            ByteArrayOutputStream zipped = new ByteArrayOutputStream(body.length / 2);
            try (GZIPOutputStream gz = new GZIPOutputStream(zipped) {
                {
                    def.setLevel(Deflater.BEST_SPEED);
                }
            }) {
                gz.write(body);
            }
            body = zipped.toByteArray();
            headers.set("content-encoding", "gzip");
            headers.set("vary", "Accept-Encoding");
        }
        if (request.method().equals("HEAD")) {
            exchange.sendResponseHeaders(response.status(), -1);
            return;
        }
        exchange.sendResponseHeaders(response.status(), body.length == 0 ? -1 : body.length);
        if (body.length > 0) {
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        }
    }
}
