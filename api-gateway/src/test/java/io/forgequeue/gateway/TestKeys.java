package io.forgequeue.gateway;

import io.forgequeue.gateway.quota.Priority;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.UUID;
import org.springframework.jdbc.core.JdbcTemplate;

/**
 * API keys with quotas of their own, written straight into {@code api_key} (as the admin API stores them) before
 * the key is first used, so no gateway has cached it with the defaults.
 */
final class TestKeys {

    private TestKeys() {}

    /**
     * A key's own limits; null = the gateway's default.
     *
     * @param maxQueued   waiting jobs at once (over it: 429)
     * @param maxRunning  GPU slots held at once
     * @param weight      fair-share weight
     * @param maxPriority the highest class it may ask for
     */
    record Limits(Integer maxQueued, Integer maxRunning, Double weight, Priority maxPriority) {

        static Limits defaults() {
            return new Limits(null, null, null, null);
        }

        Limits maxQueued(int n) {
            return new Limits(n, maxRunning, weight, maxPriority);
        }

        Limits maxRunning(int n) {
            return new Limits(maxQueued, n, weight, maxPriority);
        }

        Limits weight(double w) {
            return new Limits(maxQueued, maxRunning, w, maxPriority);
        }

        Limits maxPriority(Priority p) {
            return new Limits(maxQueued, maxRunning, weight, p);
        }
    }

    /** Stores a new random key with {@code limits}; returns the raw key. */
    static String create(JdbcTemplate jdbc, Limits limits) {
        String raw = "test-" + UUID.randomUUID();
        jdbc.update(
                """
                        insert into api_key (id, name, key_hash, key_prefix, max_queued, max_running, weight, max_priority)
                        values (?, ?, ?, ?, ?, ?, ?, ?)""",
                UUID.randomUUID(),
                "key-" + raw.substring(5, 13),
                sha256(raw),
                raw.substring(0, 5),
                limits.maxQueued(),
                limits.maxRunning(),
                limits.weight(),
                limits.maxPriority() == null
                        ? null
                        : (short) limits.maxPriority().level());
        return raw;
    }

    private static byte[] sha256(String raw) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(raw.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
