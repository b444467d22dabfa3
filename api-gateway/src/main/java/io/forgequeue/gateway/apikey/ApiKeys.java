package io.forgequeue.gateway.apikey;

import io.forgequeue.gateway.quota.Quota;
import io.forgequeue.gateway.quota.QuotaProperties;
import io.forgequeue.gateway.system.PostgresNotifications;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.dao.DataAccessException;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Service;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.HexFormat;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * API keys, stored as SHA-256 hashes (the keys are long random strings, so a plain fast hash is enough; the key
 * itself is never stored or logged), with their quotas. The hot path of every request: one indexed select by hash
 * with plain SQL, cached (the admin API, {@link KeyAdministration}, maps the same table with JPA). Lookups are cached for {@link ApiKeyProperties#cacheTtl()},
 * misses for a few seconds; a change of a key on any gateway (PostgreSQL notification {@code fq_keys}) drops this
 * gateway's copies at once and is announced as {@link ApiKeyChanged}. Thread-safe.
 */
@Service
public class ApiKeys {

    static final String CHANNEL = "fq_keys";

    private static final Logger log = LoggerFactory.getLogger(ApiKeys.class);
    private static final long MISS_TTL_NANOS = 5_000_000_000L;
    private static final int CACHE_MAX = 10_000;
    private static final String COLUMNS = "id, name, disabled_at, max_queued, max_running, weight, max_priority";

    private final JdbcClient jdbc;
    private final QuotaProperties quotas;
    private final ApplicationEventPublisher events;
    private final long ttlNanos;
    private final ConcurrentHashMap<String, Cached> cache = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<UUID, CachedQuota> quotaCache = new ConcurrentHashMap<>();
    /** Grows with every drop of cached entries: a lookup that overlapped one does not store what it read. */
    private final AtomicLong generation = new AtomicLong();

    ApiKeys(JdbcClient jdbc, ApiKeyProperties properties, QuotaProperties quotas, ApplicationEventPublisher events,
            PostgresNotifications notifications) {
        this.jdbc = jdbc;
        this.quotas = quotas;
        this.events = events;
        this.ttlNanos = properties.cacheTtl().toNanos();
        notifications.listen(CHANNEL, this::onKeyChanged, this::forgetAll);
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
        long generation = this.generation.get();
        Optional<Found> found = jdbc.sql("select " + COLUMNS + " from api_key where key_hash = :hash")
                .param("hash", hash)
                .query((rs, i) -> new Found(rs.getObject("id", UUID.class),
                        rs.getTimestamp("disabled_at") != null ? null : caller(rs)))
                .optional();
        Caller caller = found.map(Found::caller).orElse(null);
        if (cache.size() > CACHE_MAX) {
            cache.clear();
        }
        Cached entry = new Cached(caller, found.map(Found::keyId).orElse(null),
                now + (caller != null ? ttlNanos : MISS_TTL_NANOS));
        cache.put(cacheKey, entry);
        if (this.generation.get() != generation) {
            // a key changed while this was read: what was read may be its old state (checked after the put, so a
            // drop that ran between a check and the put cannot leave the entry behind)
            cache.remove(cacheKey, entry);
        }
        return Optional.ofNullable(caller);
    }

    /**
     * The quota of the key with this id (the defaults for an unknown key). Cached like authentication; the scheduler
     * asks for it on every pick.
     */
    public Quota quotaOf(UUID keyId) {
        long now = System.nanoTime();
        CachedQuota cached = quotaCache.get(keyId);
        if (cached != null && now < cached.expiresAt()) {
            return cached.quota();
        }
        long generation = this.generation.get();
        Quota quota;
        try {
            quota = jdbc.sql("select " + COLUMNS + " from api_key where id = :id").param("id", keyId)
                    .query((rs, i) -> caller(rs).quota()).optional().orElseGet(this::defaults);
        } catch (DataAccessException e) {
            if (cached != null) {
                return cached.quota();
            }
            throw e;
        }
        if (quotaCache.size() > CACHE_MAX) {
            quotaCache.clear();
        }
        CachedQuota entry = new CachedQuota(quota, now + ttlNanos);
        quotaCache.put(keyId, entry);
        if (this.generation.get() != generation) {
            quotaCache.remove(keyId, entry);
        }
        return quota;
    }

    /** The quota a key without limits of its own has. */
    public Quota defaults() {
        return quotas.resolve(null, null, null, null);
    }

    /** Stores {@code rawKey} under {@code name} unless it exists already; returns its owner. */
    public Caller ensure(String name, String rawKey) {
        byte[] hash = hash(rawKey);
        jdbc.sql("""
                        insert into api_key (id, name, key_hash, key_prefix) values (:id, :name, :hash, :prefix)
                        on conflict (key_hash) do nothing""")
                .param("id", UUID.randomUUID()).param("name", name).param("hash", hash)
                .param("prefix", prefixOf(rawKey)).update();
        generation.incrementAndGet();
        cache.remove(HexFormat.of().formatHex(hash));
        return authenticate(rawKey).orElseThrow(() -> new IllegalStateException("API key " + name + " is disabled"));
    }

    /** The first characters of a key that may be shown to operators (never enough to use it). */
    static String prefixOf(String rawKey) {
        return rawKey.length() <= 8 ? "" : rawKey.substring(0, Math.min(8, rawKey.length() / 4));
    }

    private void onKeyChanged(String payload) {
        UUID keyId;
        try {
            keyId = UUID.fromString(payload);
        } catch (IllegalArgumentException e) {
            return;
        }
        forget(keyId);
        boolean disabled = jdbc.sql("select disabled_at is not null from api_key where id = :id").param("id", keyId)
                .query(Boolean.class).optional().orElse(true);
        log.debug("ApiKey(id={}) changed (disabled: {})", keyId, disabled);
        events.publishEvent(new ApiKeyChanged(keyId, disabled));
    }

    /**
     * Drops what this gateway remembers of one key (accepted or refused), so the next request reads it again: on a
     * change notification, and right after the admin API changed the key here (before the notification arrives).
     */
    void forget(UUID keyId) {
        generation.incrementAndGet();
        cache.values().removeIf(c -> keyId.equals(c.keyId()));
        quotaCache.remove(keyId);
    }

    /** After a gap in the notifications: any cached key may be stale. */
    private void forgetAll() {
        generation.incrementAndGet();
        cache.clear();
        quotaCache.clear();
    }

    private Caller caller(ResultSet rs) throws SQLException {
        Quota quota = quotas.resolve((Integer) rs.getObject("max_queued"), (Integer) rs.getObject("max_running"),
                (Double) rs.getObject("weight"), rs.getObject("max_priority") == null ? null
                        : ((Number) rs.getObject("max_priority")).intValue());
        return new Caller(rs.getObject("id", UUID.class), rs.getString("name"), quota);
    }

    static byte[] hash(String rawKey) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(rawKey.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    /** A lookup's outcome: the caller (null when the key is unknown or disabled) and the key's id (null: unknown). */
    private record Cached(Caller caller, UUID keyId, long expiresAt) {
    }

    private record Found(UUID keyId, Caller caller) {
    }

    private record CachedQuota(Quota quota, long expiresAt) {
    }
}
