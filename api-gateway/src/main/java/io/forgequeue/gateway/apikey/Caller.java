package io.forgequeue.gateway.apikey;

import io.forgequeue.gateway.quota.Quota;
import java.util.Objects;
import java.util.UUID;

/**
 * The authenticated owner of a request or WebSocket session: one API key. Jobs belong to a key; a key sees only
 * its own jobs.
 *
 * @param keyId the key's id (never the key itself)
 * @param name  the key's display name
 * @param quota what the key may use (defaults applied)
 */
public record Caller(UUID keyId, String name, Quota quota) {

    public Caller {
        Objects.requireNonNull(keyId, "keyId");
        Objects.requireNonNull(quota, "quota");
    }
}
