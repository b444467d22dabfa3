package io.forgequeue.gateway.admin;

import java.util.List;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * The admin API's settings ({@code gateway.admin.*}).
 *
 * @param tokens the admin tokens (env {@code GATEWAY_ADMIN_TOKENS}, comma-separated): a request to
 *               {@code /api/v1/admin/} must carry one as {@code Authorization: Bearer <token>}. Each at least
 *               {@value #MIN_TOKEN_LENGTH} characters, and none may be an API key. None (the default): the admin API
 *               is off and answers 403 {@code admin-api-disabled}. Several allow rotating one without downtime.
 */
@ConfigurationProperties("gateway.admin")
public record AdminProperties(@DefaultValue("") List<String> tokens) {

    static final int MIN_TOKEN_LENGTH = 24;

    public AdminProperties {
        tokens = tokens == null
                ? List.of()
                : tokens.stream()
                        .map(String::strip)
                        .filter(t -> !t.isEmpty())
                        .distinct()
                        .toList();
        for (int i = 0; i < tokens.size(); i++) {
            if (tokens.get(i).length() < MIN_TOKEN_LENGTH) {
                // the token itself is never part of the message
                throw new IllegalArgumentException("gateway.admin.tokens: token " + (i + 1) + " is shorter than "
                        + MIN_TOKEN_LENGTH + " characters; use a long random string (e.g. openssl rand -base64 32)");
            }
        }
    }
}
