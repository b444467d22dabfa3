package io.forgequeue.gateway.apikey;

import jakarta.validation.Valid;
import jakarta.validation.constraints.Min;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * Per-key rate limits ({@code gateway.rate-limits.*}), token buckets: a key may spend {@code burst} at
 * once, and gets {@code perSecond} back every second. One key's flood is refused (429 with Retry-After, or its
 * WebSocket closed) while every other key is served as usual. Each gateway instance counts on its own: with n
 * instances behind a load balancer a key gets up to n times the rate.
 *
 * @param requests REST requests of one key (everything under {@code /api/v1/} it authenticates)
 * @param frames   WebSocket frames one key's sessions send (auth, subscribe, ping...)
 */
@Validated
@ConfigurationProperties("gateway.rate-limits")
public record RateLimitProperties(
        @DefaultValue @Valid Requests requests,
        @DefaultValue @Valid Frames frames) {

    /**
     * A key's REST requests.
     *
     * @param burst     requests a key may send at once
     * @param perSecond requests it gets back each second (its sustained rate)
     */
    public record Requests(
            @DefaultValue("200") @Min(1) long burst,
            @DefaultValue("50") @Min(1) long perSecond) {}

    /**
     * The WebSocket frames of a key's sessions.
     *
     * @param burst     frames a key may send at once
     * @param perSecond frames it gets back each second (its sustained rate)
     */
    public record Frames(
            @DefaultValue("60") @Min(1) long burst,
            @DefaultValue("10") @Min(1) long perSecond) {}
}
