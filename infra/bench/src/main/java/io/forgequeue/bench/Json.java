package io.forgequeue.bench;

import java.time.Instant;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.SerializationFeature;
import tools.jackson.databind.json.JsonMapper;

/** The benchmark's JSON mapper and a few helpers for the gateway's frames. */
final class Json {

    static final JsonMapper MAPPER =
            JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();

    private Json() {}

    /** An ISO-8601 instant member, or null. */
    static Instant instant(JsonNode node, String member) {
        JsonNode v = node.get(member);
        if (v == null || v.isNull()) {
            return null;
        }
        return Instant.parse(v.asString());
    }

    /** Microseconds from {@code a} to {@code b}. */
    static long micros(Instant a, Instant b) {
        return (b.getEpochSecond() - a.getEpochSecond()) * 1_000_000L + (b.getNano() - a.getNano()) / 1_000;
    }
}
