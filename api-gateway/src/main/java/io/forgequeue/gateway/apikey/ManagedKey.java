package io.forgequeue.gateway.apikey;

import io.forgequeue.gateway.quota.Priority;
import io.forgequeue.gateway.quota.Quota;
import java.time.Instant;
import java.util.Objects;
import java.util.UUID;

/**
 * An API key as the admin API shows it: never the secret, nor its hash.
 *
 * @param id          the key's id
 * @param name        its display name
 * @param prefix      the first characters of the secret, to tell keys apart (never enough to use one); null for
 *                    keys stored before prefixes were kept
 * @param createdAt   when it was created
 * @param updatedAt   when its name, limits or state last changed
 * @param disabledAt  when it was disabled, or null while it works
 * @param maxQueued   its own limit of waiting jobs, or null for the gateway's default
 * @param maxRunning  its own limit of GPU slots held at once, or null for the default
 * @param weight      its own fair-share weight, or null for the default
 * @param maxPriority the highest priority class it may use, or null for the default
 * @param effective   what applies now: its own values, the defaults where it has none
 */
public record ManagedKey(
        UUID id,
        String name,
        String prefix,
        Instant createdAt,
        Instant updatedAt,
        Instant disabledAt,
        Integer maxQueued,
        Integer maxRunning,
        Double weight,
        Priority maxPriority,
        Quota effective) {

    public ManagedKey {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(effective, "effective");
    }

    public boolean disabled() {
        return disabledAt != null;
    }
}
