package io.forgequeue.gateway.admin;

import io.forgequeue.gateway.apikey.CreatedKey;
import java.time.Instant;
import java.util.UUID;

/**
 * Answer to creating a key: the key and, this once, its secret. The gateway keeps only the secret's SHA-256 hash, so
 * a lost secret cannot be shown again (disable the key and create another). {@link #toString()} leaves the secret
 * out, so a debug log of the response never shows it.
 *
 * @param secret the API key to hand to its owner: {@code fq_} and 32 letters or digits
 */
record CreatedKeyView(
        UUID id,
        String name,
        String prefix,
        String secret,
        boolean disabled,
        Instant createdAt,
        Instant updatedAt,
        KeyView.LimitsView limits,
        KeyView.EffectiveView effective) {

    static CreatedKeyView of(CreatedKey created) {
        KeyView key = KeyView.of(created.key());
        return new CreatedKeyView(
                key.id(),
                key.name(),
                key.prefix(),
                created.secret(),
                key.disabled(),
                key.createdAt(),
                key.updatedAt(),
                key.limits(),
                key.effective());
    }

    @Override
    public String toString() {
        return "CreatedKeyView[id=" + id + ", name=" + name + ", prefix=" + prefix + ", secret=(hidden)]";
    }
}
