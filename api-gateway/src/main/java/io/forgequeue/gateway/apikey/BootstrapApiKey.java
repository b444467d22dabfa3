package io.forgequeue.gateway.apikey;

import java.util.Arrays;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.ApplicationArguments;
import org.springframework.boot.ApplicationRunner;
import org.springframework.stereotype.Component;

/**
 * Inserts the configured bootstrap keys ({@code GATEWAY_BOOTSTRAP_API_KEY}: one key, or several separated by commas)
 * at startup if they are missing.
 */
@Component
class BootstrapApiKey implements ApplicationRunner {

    private static final Logger log = LoggerFactory.getLogger(BootstrapApiKey.class);

    private final ApiKeys keys;
    private final ApiKeyProperties properties;

    BootstrapApiKey(ApiKeys keys, ApiKeyProperties properties) {
        this.keys = keys;
        this.properties = properties;
    }

    @Override
    public void run(ApplicationArguments args) {
        List<String> raw = bootstrapKeys(properties.bootstrap());
        if (raw.isEmpty()) {
            log.info("No bootstrap API key configured (GATEWAY_BOOTSTRAP_API_KEY); only keys in the database work");
            return;
        }
        for (int i = 0; i < raw.size(); i++) {
            String key = raw.get(i);
            if (key.length() < 16) {
                log.warn(
                        "Bootstrap API key {} is shorter than 16 characters; use long random keys outside local use",
                        i + 1);
            }
            Caller caller = keys.ensure(i == 0 ? "bootstrap" : "bootstrap-" + (i + 1), key);
            log.info("ApiKey(id={}) bootstrap key ensured", caller.keyId());
        }
    }

    /** The configured keys: one, or several separated by commas (blanks around them ignored). */
    static List<String> bootstrapKeys(String configured) {
        if (configured == null || configured.isBlank()) {
            return List.of();
        }
        return Arrays.stream(configured.split(","))
                .map(String::trim)
                .filter(k -> !k.isEmpty())
                .distinct()
                .toList();
    }
}
