package io.forgequeue.gateway.apikey;

import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Service;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * API keys, stored as SHA-256 hashes (the keys are long random strings, so a plain fast hash is enough; the key
 * itself is never stored or logged). Lookups are cached for {@link ApiKeyProperties#cacheTtl()}, misses for a few
 * seconds. Thread-safe.
 */
@Service
public class ApiKeys {

    private static final long MISS_TTL_NANOS = 5_000_000_000L;
    private static final int CACHE_MAX = 10_000;

    private final JdbcClient jdbc;
    private final long ttlNanos;
    private final ConcurrentHashMap<String, Cached> cache = new ConcurrentHashMap<>();

    ApiKeys(JdbcClient jdbc, ApiKeyProperties properties) {
        this.jdbc = jdbc;
        this.ttlNanos = properties.cacheTtl().toNanos();
    }

    /** The owner of {@code rawKey}, or empty when the key is unknown or disabled. */
    public Optional<Caller> authenticate(String rawKey) {
        if (rawKey == null || rawKey.isBlank() || rawKey.length() > 512) {
            return Optional.empty();
        }
        byte[] hash = hash(rawKey);
        String cacheKey = HexFormat.of().formatHex(hash);
        long now = System.nanoTime();
        Cached cached = cache.get(cacheKey);
        if (cached != null && now < cached.expiresAt()) {
            return Optional.ofNullable(cached.caller());
        }
        Optional<Caller> caller = jdbc.sql("select id, name from api_key where key_hash = :hash and disabled_at is null")
                .param("hash", hash)
                .query((rs, i) -> new Caller(rs.getObject("id", UUID.class), rs.getString("name")))
                .optional();
        if (cache.size() > CACHE_MAX) {
            cache.clear();
        }
        cache.put(cacheKey, new Cached(caller.orElse(null), now + (caller.isPresent() ? ttlNanos : MISS_TTL_NANOS)));
        return caller;
    }

    /** Stores {@code rawKey} under {@code name} unless it exists already; returns its owner. */
    public Caller ensure(String name, String rawKey) {
        byte[] hash = hash(rawKey);
        jdbc.sql("""
                        insert into api_key (id, name, key_hash) values (:id, :name, :hash)
                        on conflict (key_hash) do nothing""")
                .param("id", UUID.randomUUID()).param("name", name).param("hash", hash).update();
        cache.remove(HexFormat.of().formatHex(hash));
        return authenticate(rawKey).orElseThrow(() -> new IllegalStateException("API key " + name + " is disabled"));
    }

    static byte[] hash(String rawKey) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(rawKey.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    private record Cached(Caller caller, long expiresAt) {
    }
}
