package io.forgequeue.worker.forge;

import java.io.IOException;
import java.net.ConnectException;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpTimeoutException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.net.ssl.SSLException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Maps Forge's HTTP errors and transport failures to {@link ForgeException} (forge-api.md §8, §11.9). Pure.
 *
 * <ul>
 *   <li>401/403 {@link ForgeFailure#AUTH}, 404 {@link ForgeFailure#API_MISSING}, 422 and other 4xx
 *       {@link ForgeFailure#REJECTED}: permanent;</li>
 *   <li>500 with JSON {@code error: OutOfMemoryError} (or a CUDA out-of-memory message)
 *       {@link ForgeFailure#OUT_OF_MEMORY}; any other 500, JSON or not, {@link ForgeFailure#SERVER_ERROR}, its
 *       explanation read from {@code message} (Forge), {@code errors} (A1111) or {@code detail};</li>
 *   <li>502/503/504 and 429 {@link ForgeFailure#UNAVAILABLE} (a proxy in front of a dead or busy Forge; a 504 does
 *       not mean the job stopped, so Forge may still be generating);</li>
 *   <li>connection refused, connect timeout {@link ForgeFailure#UNAVAILABLE}; a connection dropped after the
 *       request was sent {@link ForgeFailure#UNAVAILABLE} with "may still run"; a read timeout
 *       {@link ForgeFailure#TIMEOUT} with "may still run";</li>
 *   <li>a failed TLS handshake (Forge's certificate not trusted, or not for that host) {@link ForgeFailure#UNAVAILABLE}
 *       with a message that says what to check: the request was never sent.</li>
 * </ul>
 */
final class ForgeErrors {

    /** Longest piece of Forge's own text kept in an exception or an event. */
    static final int MAX_TEXT = 300;

    private ForgeErrors() {}

    static ForgeException fromResponse(String call, int status, byte[] body, JsonMapper json) {
        JsonNode tree = readJson(body, json);
        String error = tree == null ? null : text(tree.get("error"));
        String explanation = tree == null ? null : explanation(tree);
        String what = "Forge " + call + " answered HTTP " + status + (error == null ? "" : " " + error)
                + (explanation == null ? "" : ": " + explanation);
        ForgeFailure failure;
        boolean mayStillRun = false;
        if (status == 401 || status == 403) {
            failure = ForgeFailure.AUTH;
        } else if (status == 404) {
            failure = ForgeFailure.API_MISSING;
        } else if (status == 408) {
            failure = ForgeFailure.TIMEOUT;
            mayStillRun = true;
        } else if (status == 429 || status == 502 || status == 503 || status == 504) {
            failure = ForgeFailure.UNAVAILABLE;
            mayStillRun = true;
        } else if (status >= 400 && status < 500) {
            failure = ForgeFailure.REJECTED;
        } else if (isOutOfMemory(error, explanation)) {
            failure = ForgeFailure.OUT_OF_MEMORY;
        } else {
            failure = ForgeFailure.SERVER_ERROR;
        }
        return new ForgeException(failure, status, error, explanation, mayStillRun, what, null);
    }

    /**
     * A transport failure.
     *
     * @param requestSent whether the request may have reached Forge (false only when we know it did not)
     */
    static ForgeException fromIo(String call, IOException e, boolean requestSent) {
        SSLException tls = e instanceof SSLException ssl ? ssl : e.getCause() instanceof SSLException ssl ? ssl : null;
        if (tls != null) {
            // The request was never sent: the handshake comes first. An outage (the job goes back, never fails).
            return new ForgeException(
                    ForgeFailure.UNAVAILABLE,
                    0,
                    null,
                    null,
                    false,
                    "Forge " + call + ": TLS handshake failed (" + describe(tls)
                            + "); check that worker.forge.ssl-bundle "
                            + "trusts the CA that signed Forge's certificate and that the certificate names the host "
                            + "in worker.forge.url",
                    e);
        }
        if (e instanceof HttpConnectTimeoutException || e instanceof ConnectException) {
            return new ForgeException(
                    ForgeFailure.UNAVAILABLE,
                    0,
                    null,
                    null,
                    false,
                    "Forge " + call + ": cannot connect (" + describe(e) + ")",
                    e);
        }
        if (e instanceof HttpTimeoutException) {
            return new ForgeException(
                    ForgeFailure.TIMEOUT,
                    0,
                    null,
                    null,
                    requestSent,
                    "Forge " + call + ": no answer within the read timeout",
                    e);
        }
        return new ForgeException(
                ForgeFailure.UNAVAILABLE,
                0,
                null,
                null,
                requestSent,
                "Forge " + call + ": connection failed (" + describe(e) + ")",
                e);
    }

    /** The calling thread was interrupted (the Failsafe timeout fired) while waiting for Forge. */
    static ForgeException interrupted(String call, InterruptedException e) {
        return new ForgeException(
                ForgeFailure.TIMEOUT,
                0,
                null,
                null,
                true,
                "Forge " + call + ": abandoned while waiting for the answer",
                e);
    }

    /** A 200 whose body is not what the API promises. */
    static ForgeException badResponse(String call, String why, Throwable cause) {
        return new ForgeException(
                ForgeFailure.BAD_RESPONSE,
                200,
                null,
                null,
                false,
                "Forge " + call + " answered with an unreadable body: " + why,
                cause);
    }

    private static boolean isOutOfMemory(String error, String explanation) {
        if (error != null && error.toLowerCase(Locale.ROOT).contains("outofmemory")) {
            return true;
        }
        return explanation != null && explanation.toLowerCase(Locale.ROOT).contains("out of memory");
    }

    private static JsonNode readJson(byte[] body, JsonMapper json) {
        if (body == null || body.length == 0) {
            return null;
        }
        try {
            JsonNode node = json.readTree(body);
            return node != null && node.isObject() ? node : null;
        } catch (RuntimeException notJson) {
            return null;
        }
    }

    /** {@code message} (Forge), {@code errors} (A1111), then {@code detail} (FastAPI: a string or pydantic's list). */
    static String explanation(JsonNode tree) {
        for (String key : List.of("message", "errors")) {
            String value = text(tree.get(key));
            if (value != null) {
                return shorten(value);
            }
        }
        JsonNode detail = tree.get("detail");
        if (detail == null || detail.isNull()) {
            return null;
        }
        if (detail.isString()) {
            return blankToNull(shorten(detail.asString()));
        }
        if (detail.isArray()) {
            List<String> parts = new ArrayList<>();
            for (JsonNode item : detail) {
                String msg = text(item.get("msg"));
                JsonNode loc = item.get("loc");
                String where = null;
                if (loc != null && loc.isArray()) {
                    List<String> path = new ArrayList<>();
                    for (JsonNode p : loc) {
                        String s = p.asString();
                        if (!"body".equals(s)) {
                            path.add(s);
                        }
                    }
                    where = String.join(".", path);
                }
                parts.add((where == null || where.isEmpty() ? "" : where + ": ") + (msg == null ? "invalid" : msg));
            }
            return parts.isEmpty() ? null : shorten(String.join("; ", parts));
        }
        return shorten(detail.toString());
    }

    private static String text(JsonNode node) {
        if (node == null || node.isNull() || node.isMissingNode()) {
            return null;
        }
        return blankToNull(node.isValueNode() ? node.asString() : node.toString());
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s;
    }

    static String shorten(String s) {
        String oneLine = s.replaceAll("\\s+", " ").trim();
        return oneLine.length() <= MAX_TEXT ? oneLine : oneLine.substring(0, MAX_TEXT - 1) + "…";
    }

    private static String describe(IOException e) {
        String m = e.getMessage();
        return e.getClass().getSimpleName() + (m == null ? "" : ": " + m);
    }
}
