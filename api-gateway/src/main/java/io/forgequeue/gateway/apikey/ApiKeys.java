package io.forgequeue.gateway.apikey;

import io.forgequeue.gateway.quota.Quota;
import io.forgequeue.gateway.quota.QuotaProperties;
import io.forgequeue.gateway.system.PostgresNotifications;
import io.forgequeue.gateway.system.SqlArrays;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Service;

/**
 * API keys, stored as SHA-256 hashes (the keys are long random strings, so a plain fast hash is enough; the key
 * itself is never stored or logged), with their quotas. The hot path of every request: one indexed select by hash
 * with plain SQL, cached (the admin API, {@link KeyAdministration}, maps the same table with JPA). Lookups are
 * cached for {@link ApiKeyProperties#cacheTtl()}, misses for a few seconds, in a bounded {@link KeyCache} that random
 * keys cannot flush, quotas until the key changes; a change of
 * a key on any gateway (PostgreSQL notification {@code fq_keys}) drops this
 * gateway's copies at once and is announced as {@link ApiKeyChanged}. Thread-safe.
 */
@Service
public class ApiKeys {

    static final String CHANNEL = "fq_keys";

    private static final Logger log = LoggerFactory.getLogger(ApiKeys.class);
    private static final Duration MISS_TTL = Duration.ofSeconds(5);
    private static final long MISS_TTL_NANOS = MISS_TTL.toNanos();
    /** Quotas remembered at once (the scheduler's keys: ids of queued jobs' keys, never a stranger's guess). */
    private static final int CACHE_MAX = 10_000;

    private static final String COLUMNS = "id, name, disabled_at, max_queued, max_running, weight, max_priority";

    private final JdbcClient jdbc;
    private final QuotaProperties quotas;
    private final ApplicationEventPublisher events;
    private final long ttlNanos;
    private final KeyCache cache;
    private final ConcurrentHashMap<UUID, Quota> quotaCache = new ConcurrentHashMap<>();
    /** Grows with every drop of cached entries: a lookup that overlapped one does not store what it read. */
    private final AtomicLong generation = new AtomicLong();

    ApiKeys(
            JdbcClient jdbc,
            ApiKeyProperties properties,
            QuotaProperties quotas,
            ApplicationEventPublisher events,
            PostgresNotifications notifications) {
        this.jdbc = jdbc;
        this.quotas = quotas;
        this.events = events;
        this.ttlNanos = properties.cacheTtl().toNanos();
        this.cache = new KeyCache(
                properties.cacheTtl().compareTo(MISS_TTL) > 0 ? properties.cacheTtl() : MISS_TTL, MISS_TTL);
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
        KeyCache.Entry cached = cache.get(cacheKey, now);
        if (cached != null) {
            return Optional.ofNullable(cached.caller());
        }
        long generation = this.generation.get();
        Optional<Found> found = jdbc.sql("select " + COLUMNS + " from api_key where key_hash = :hash")
                .param("hash", hash)
                .query((rs, i) -> new Found(
                        rs.getObject("id", UUID.class), rs.getTimestamp("disabled_at") != null ? null : caller(rs)))
                .optional();
        Caller caller = found.map(Found::caller).orElse(null);
        KeyCache.Entry entry = new KeyCache.Entry(
                caller, found.map(Found::keyId).orElse(null), now + (caller != null ? ttlNanos : MISS_TTL_NANOS));
        cache.put(cacheKey, entry);
        if (this.generation.get() != generation) {
            // a key changed while this was read: what was read may be its old state (checked after the put, so a
            // drop that ran between a check and the put cannot leave the entry behind)
            cache.remove(cacheKey, entry);
        }
        return Optional.ofNullable(caller);
    }

    /**
     * The quota of the key with this id (the defaults for an unknown key). The scheduler asks for it for every
     * candidate of every pick, so quotas are cached until the key changes (the {@code fq_keys} notification drops the
     * entry on every gateway, a gap in the notifications drops them all), not for a time: with thousands of keys a
     * time-to-live made the scheduler look one up in PostgreSQL on most decisions (issue 21). A miss costs one query;
     * {@link #loadQuotas} fills many misses with one.
     */
    public Quota quotaOf(UUID keyId) {
        Quota cached = quotaCache.get(keyId);
        if (cached != null) {
            return cached;
        }
        loadQuotas(List.of(keyId));
        return quotaCache.getOrDefault(keyId, defaults());
    }

    /** Caches the quotas of those of {@code keyIds} not cached yet, with one statement (none when all are). */
    public void loadQuotas(Collection<UUID> keyIds) {
        List<UUID> missing = new ArrayList<>();
        for (UUID id : keyIds) {
            if (!quotaCache.containsKey(id)) {
                missing.add(id);
            }
        }
        if (missing.isEmpty()) {
            return;
        }
        long generation = this.generation.get();
        Map<UUID, Quota> found = new HashMap<>();
        jdbc.sql("select " + COLUMNS + " from api_key where id = any(cast(:ids as uuid[]))")
                .param("ids", SqlArrays.of(missing))
                .query(rs -> {
                    Caller c = caller(rs);
                    found.put(c.keyId(), c.quota());
                });
        if (quotaCache.size() + missing.size() > CACHE_MAX) {
            quotaCache.clear();
        }
        synchronized (this.generation) {
            if (this.generation.get() != generation) {
                return; // a key changed meanwhile: what was read may be older than the change; read again next time
            }
            for (UUID id : missing) {
                quotaCache.put(id, found.getOrDefault(id, defaults()));
            }
        }
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
                .param("id", UUID.randomUUID())
                .param("name", name)
                .param("hash", hash)
                .param("prefix", prefixOf(rawKey))
                .update();
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
        boolean disabled = jdbc.sql("select disabled_at is not null from api_key where id = :id")
                .param("id", keyId)
                .query(Boolean.class)
                .optional()
                .orElse(true);
        log.debug("ApiKey(id={}) changed (disabled: {})", keyId, disabled);
        events.publishEvent(new ApiKeyChanged(keyId, disabled));
    }

    /**
     * Drops what this gateway remembers of one key (accepted or refused), so the next request reads it again: on a
     * change notification, and right after the admin API changed the key here (before the notification arrives).
     */
    void forget(UUID keyId) {
        synchronized (generation) {
            generation.incrementAndGet();
            quotaCache.remove(keyId);
        }
        cache.forget(keyId);
    }

    /** After a gap in the notifications: any cached key may be stale. */
    private void forgetAll() {
        synchronized (generation) {
            generation.incrementAndGet();
            quotaCache.clear();
        }
        cache.forgetAll();
    }

    private Caller caller(ResultSet rs) throws SQLException {
        Quota quota = quotas.resolve(
                (Integer) rs.getObject("max_queued"),
                (Integer) rs.getObject("max_running"),
                (Double) rs.getObject("weight"),
                rs.getObject("max_priority") == null ? null : ((Number) rs.getObject("max_priority")).intValue());
        return new Caller(rs.getObject("id", UUID.class), rs.getString("name"), quota);
    }

    static byte[] hash(String rawKey) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(rawKey.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    private record Found(UUID keyId, Caller caller) {}
}
