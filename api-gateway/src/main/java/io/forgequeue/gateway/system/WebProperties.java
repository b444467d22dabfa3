package io.forgequeue.gateway.system;

import jakarta.validation.constraints.Min;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * Limits of the HTTP API ({@code gateway.web.*}).
 *
 * @param maxBodyBytes largest request body accepted; a larger one is answered 413 before it is read further
 */
@Validated
@ConfigurationProperties("gateway.web")
public record WebProperties(@DefaultValue("65536") @Min(1024) int maxBodyBytes) {
}
