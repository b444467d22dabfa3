package io.forgequeue.gateway.admin;

import io.forgequeue.gateway.apikey.ApiKeyProperties;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Component;

/**
 * The configured admin tokens, kept as SHA-256 hashes. A presented token is hashed and compared with every
 * configured one in constant time ({@link MessageDigest#isEqual}, no early exit), so neither the timing of a
 * comparison nor the number of tokens tried tells an attacker how close a guess was. Thread-safe.
 */
@Component
class AdminTokens {

    private static final Logger log = LoggerFactory.getLogger(AdminTokens.class);

    private final List<byte[]> hashes;

    AdminTokens(AdminProperties properties, ApiKeyProperties apiKeys) {
        for (String bootstrapKey : apiKeys.bootstrapKeys()) {
            if (properties.tokens().contains(bootstrapKey)) {
                throw new IllegalStateException("An admin token (gateway.admin.tokens) is also an API key "
                        + "(gateway.api-keys.bootstrap): an admin credential is never a user's key; use another");
            }
        }
        this.hashes = properties.tokens().stream().map(AdminTokens::hash).toList();
        if (hashes.isEmpty()) {
            log.info("No admin token configured (GATEWAY_ADMIN_TOKENS): the admin API (/api/v1/admin/) is off");
        } else {
            log.info("Admin API on with {} admin token(s)", hashes.size());
        }
    }

    boolean enabled() {
        return !hashes.isEmpty();
    }

    /** Whether {@code presented} is one of the admin tokens. */
    boolean matches(String presented) {
        if (presented == null || presented.isEmpty() || presented.length() > 512) {
            return false;
        }
        byte[] hash = hash(presented);
        boolean match = false;
        for (byte[] known : hashes) {
            match |= MessageDigest.isEqual(known, hash);
        }
        return match;
    }

    private static byte[] hash(String token) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
