package io.forgequeue.gateway.apikey;

import java.util.UUID;

/**
 * Spring application event: an API key changed on some gateway (disabled, limits changed), as PostgreSQL told this
 * gateway. Its cached copies are already dropped; listeners act on the rest (a disabled key's WebSocket sessions
 * are closed).
 *
 * @param keyId    the key
 * @param disabled whether the key is disabled now
 */
public record ApiKeyChanged(UUID keyId, boolean disabled) {}
