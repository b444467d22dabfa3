package io.forgequeue.gateway.apikey;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.ApplicationArguments;
import org.springframework.boot.ApplicationRunner;
import org.springframework.stereotype.Component;

/** Inserts the configured bootstrap key ({@code GATEWAY_BOOTSTRAP_API_KEY}) at startup if it is missing. */
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
        String raw = properties.bootstrap();
        if (raw == null || raw.isBlank()) {
            log.info("No bootstrap API key configured (GATEWAY_BOOTSTRAP_API_KEY); only keys in the database work");
            return;
        }
        if (raw.length() < 16) {
            log.warn("The bootstrap API key is shorter than 16 characters; use a long random key outside local use");
        }
        Caller caller = keys.ensure("bootstrap", raw);
        log.info("ApiKey(id={}) bootstrap key ensured", caller.keyId());
    }
}
