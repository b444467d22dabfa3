package io.forgequeue.gateway.apikey;

import java.util.Objects;

/**
 * A key just created, with its secret: the only time the secret exists outside its owner's hands (it is never
 * stored, only its hash). {@link #toString()} leaves the secret out, so a log line or a debugger never shows it.
 *
 * @param key    the key as stored
 * @param secret the key itself, to hand to its owner once
 */
public record CreatedKey(ManagedKey key, String secret) {

    public CreatedKey {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(secret, "secret");
    }

    @Override
    public String toString() {
        return "CreatedKey[key=" + key + ", secret=(hidden)]";
    }
}
