package io.forgequeue.gateway.apikey;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.Executor;

/**
 * What {@link ApiKeys} remembers of the keys it looked up, by the hex SHA-256 of the raw key. Two bounded
 * Caffeine caches, so that strangers cannot flush it: keys that exist (enabled or disabled) in one, keys that do not
 * exist in the other. A flood of random keys only ever fills the second, where they evict each other; the keys of
 * real callers stay in the first until their time is up or they change. Thread-safe.
 */
final class KeyCache {

    /** Keys that exist that one gateway remembers: far more than any deployment has. */
    static final int KNOWN_MAX = 100_000;
    /** Keys that do not exist remembered at once (each one saves a lookup for a few seconds). */
    static final int UNKNOWN_MAX = 10_000;

    private final Cache<String, Entry> known;
    private final Cache<String, Entry> unknown;

    KeyCache(Duration knownTtl, Duration unknownTtl) {
        this(KNOWN_MAX, UNKNOWN_MAX, knownTtl, unknownTtl, null);
    }

    /** {@code executor}: where Caffeine does its maintenance (null: its default; tests run it in the caller). */
    KeyCache(int knownMax, int unknownMax, Duration knownTtl, Duration unknownTtl, Executor executor) {
        this.known = build(knownMax, knownTtl, executor);
        this.unknown = build(unknownMax, unknownTtl, executor);
    }

    private static Cache<String, Entry> build(int max, Duration ttl, Executor executor) {
        Caffeine<Object, Object> b = Caffeine.newBuilder().maximumSize(max).expireAfterWrite(ttl);
        return (executor == null ? b : b.executor(executor)).build();
    }

    /** The remembered lookup of this key, or null when there is none or it is out of date at {@code now}. */
    Entry get(String hash, long now) {
        Entry e = known.getIfPresent(hash);
        if (e == null) {
            e = unknown.getIfPresent(hash);
        }
        return e != null && now < e.expiresAt() ? e : null;
    }

    void put(String hash, Entry entry) {
        (entry.keyId() == null ? unknown : known).put(hash, entry);
    }

    /** Removes this very entry (not a newer one stored meanwhile). */
    void remove(String hash, Entry entry) {
        (entry.keyId() == null ? unknown : known).asMap().remove(hash, entry);
    }

    void remove(String hash) {
        known.invalidate(hash);
        unknown.invalidate(hash);
    }

    /** Drops what is remembered of one key. */
    void forget(UUID keyId) {
        known.asMap().values().removeIf(e -> keyId.equals(e.keyId()));
    }

    void forgetAll() {
        known.invalidateAll();
        unknown.invalidateAll();
    }

    /** Entries of keys that exist, roughly (for tests). */
    long knownSize() {
        known.cleanUp();
        return known.estimatedSize();
    }

    /** Entries of keys that do not exist, roughly (for tests). */
    long unknownSize() {
        unknown.cleanUp();
        return unknown.estimatedSize();
    }

    /**
     * A lookup's outcome: the caller (null when the key is unknown or disabled), the key's id (null: no such key) and
     * until when it stands (System.nanoTime()).
     */
    record Entry(Caller caller, UUID keyId, long expiresAt) {}
}
