package io.forgequeue.systemtest;

import java.util.List;
import java.util.Locale;
import tools.jackson.databind.JsonNode;

/**
 * What every error answer of the API must be: an RFC 9457 problem detail with a stable {@code code} that leaks
 * nothing of the inside.
 */
final class ProblemCheck {

    /** Text that only a stack trace, an exception or SQL would put into a body. */
    private static final List<String> LEAKS = List.of(
            "exception",
            "\tat ",
            "at java.",
            "at org.",
            "at io.forgequeue",
            "org.springframework",
            "org.postgresql",
            "java.lang",
            "tools.jackson",
            "com.rabbitmq",
            "hikari",
            "psql",
            "sqlstate",
            "select ",
            "insert into",
            "update job",
            "syntax error",
            "stacktrace",
            "trace\"");

    private ProblemCheck() {}

    /** Null when {@code a} is a clean problem detail, else what is wrong with it. */
    static String violation(Http.Answer a) {
        String type = a.header("Content-Type");
        if (type == null || !type.toLowerCase(Locale.ROOT).startsWith("application/problem+json")) {
            return "content type " + type + " is not application/problem+json";
        }
        JsonNode body;
        try {
            body = a.json();
        } catch (RuntimeException e) {
            return "body is not JSON";
        }
        if (!body.isObject()) {
            return "body is not a JSON object";
        }
        if (body.path("status").asInt() != a.status()) {
            return "problem status " + body.path("status") + " differs from HTTP status " + a.status();
        }
        if (body.path("type").asString("").isBlank()
                || body.path("title").asString("").isBlank()) {
            return "problem without type or title";
        }
        if (body.path("code").asString("").isBlank()) {
            return "problem without a stable code";
        }
        String text = a.text().toLowerCase(Locale.ROOT);
        for (String leak : LEAKS) {
            if (text.contains(leak)) {
                return "body contains '" + leak.strip() + "'";
            }
        }
        return null;
    }
}
