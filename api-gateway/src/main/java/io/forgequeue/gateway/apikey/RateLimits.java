package io.forgequeue.gateway.apikey;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.github.bucket4j.Bandwidth;
import io.github.bucket4j.Bucket;
import io.github.bucket4j.ConsumptionProbe;
import java.time.Duration;
import java.util.UUID;
import org.springframework.stereotype.Component;

/**
 * One Bucket4j token bucket per key for its REST requests and one for its WebSocket frames
 * ({@link RateLimitProperties}). The buckets live in bounded Caffeine caches (a key idle for ten minutes has a full
 * bucket anyway, so forgetting it loses nothing). Only authenticated keys get buckets: a stranger's random key never
 * gets one. Thread-safe.
 */
@Component
public class RateLimits {

    private static final int MAX_KEYS = 100_000;

    private final RateLimitProperties properties;
    private final Cache<UUID, Bucket> requests = buckets();
    private final Cache<UUID, Bucket> frames = buckets();

    RateLimits(RateLimitProperties properties) {
        this.properties = properties;
    }

    private static Cache<UUID, Bucket> buckets() {
        return Caffeine.newBuilder()
                .maximumSize(MAX_KEYS)
                .expireAfterAccess(Duration.ofMinutes(10))
                .build();
    }

    /** Takes one request of this key: null when allowed, else how long until the next one would be. */
    public Duration tryRequest(UUID keyId) {
        return take(requests.get(
                keyId,
                id -> bucket(
                        properties.requests().burst(), properties.requests().perSecond())));
    }

    /** Takes one WebSocket frame of this key: null when allowed, else how long until the next one would be. */
    public Duration tryFrame(UUID keyId) {
        return take(frames.get(
                keyId,
                id -> bucket(properties.frames().burst(), properties.frames().perSecond())));
    }

    private static Duration take(Bucket bucket) {
        ConsumptionProbe probe = bucket.tryConsumeAndReturnRemaining(1);
        return probe.isConsumed() ? null : Duration.ofNanos(Math.max(1, probe.getNanosToWaitForRefill()));
    }

    private static Bucket bucket(long burst, long perSecond) {
        return Bucket.builder()
                .addLimit(Bandwidth.builder()
                        .capacity(burst)
                        .refillGreedy(perSecond, Duration.ofSeconds(1))
                        .build())
                .build();
    }

    /** Whole seconds for a Retry-After header: at least 1. */
    public static long retryAfterSeconds(Duration wait) {
        return Math.max(1, (wait.toMillis() + 999) / 1000);
    }
}
