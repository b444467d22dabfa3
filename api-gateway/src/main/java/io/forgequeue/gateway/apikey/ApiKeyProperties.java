package io.forgequeue.gateway.apikey;

import java.time.Duration;
import java.util.List;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * API key settings ({@code gateway.api-keys.*}).
 *
 * @param bootstrap keys inserted (hashed) at startup if missing, for local use: one, or several separated by
 *                  commas; env {@code GATEWAY_BOOTSTRAP_API_KEY}; empty for none
 * @param cacheTtl  how long a looked-up key is remembered in memory (saves a database round trip per request)
 */
@ConfigurationProperties("gateway.api-keys")
public record ApiKeyProperties(
        @DefaultValue("") String bootstrap,
        @DefaultValue("60s") Duration cacheTtl) {

    /** The configured bootstrap keys, one per entry. */
    public List<String> bootstrapKeys() {
        return BootstrapApiKey.bootstrapKeys(bootstrap);
    }
}
