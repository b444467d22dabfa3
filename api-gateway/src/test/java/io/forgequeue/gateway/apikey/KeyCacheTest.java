package io.forgequeue.gateway.apikey;

import static org.assertj.core.api.Assertions.assertThat;

import io.forgequeue.gateway.quota.Priority;
import io.forgequeue.gateway.quota.Quota;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class KeyCacheTest {

    private static final Quota QUOTA = new Quota(10, 2, 1.0, Priority.NORMAL);

    private final KeyCache cache =
            new KeyCache(1_000, 100, Duration.ofMinutes(1), Duration.ofSeconds(5), Runnable::run);
    private final long later = System.nanoTime() + Duration.ofMinutes(1).toNanos();

    @Test
    void keepsARealCallersKeyWhileStrangersSendFiftyThousandRandomKeys() {
        UUID keyId = UUID.randomUUID();
        cache.put("real", new KeyCache.Entry(new Caller(keyId, "alice", QUOTA), keyId, later));

        for (int i = 0; i < 50_000; i++) {
            cache.put("random-" + i, new KeyCache.Entry(null, null, later));
        }

        assertThat(cache.get("real", System.nanoTime())).isNotNull();
        assertThat(cache.unknownSize()).as("unknown keys stay bounded").isLessThanOrEqualTo(100);
        assertThat(cache.knownSize()).isEqualTo(1);
    }

    @Test
    void forgetsEveryEntryOfAChangedKeyAndIgnoresOutdatedOnes() {
        UUID keyId = UUID.randomUUID();
        cache.put("real", new KeyCache.Entry(new Caller(keyId, "alice", QUOTA), keyId, later));
        cache.put("stale", new KeyCache.Entry(null, null, System.nanoTime() - 1));

        cache.forget(keyId);

        assertThat(cache.get("real", System.nanoTime())).isNull();
        assertThat(cache.get("stale", System.nanoTime())).isNull();
    }
}
