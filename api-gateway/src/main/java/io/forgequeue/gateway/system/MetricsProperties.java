package io.forgequeue.gateway.system;

import jakarta.validation.constraints.Min;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * The gateway's own meters ({@code gateway.metrics.*}).
 *
 * @param maxPools most distinct values the {@code pool} tag takes on this instance. The configured pools
 *                 ({@code gateway.jobs.pools}, or {@code default} when none are configured) always get their own
 *                 series from startup; other pools get their own series as they appear, until this many pools
 *                 have one, and are counted under {@value GatewayMetrics#OTHER_POOL} after that. Bounds the number
 *                 of series when clients may name any pool.
 * @param maxKeys  most API keys with series of their own in the per-key meters ({@link KeyMetrics}): the most
 *                 active keys (queued + running jobs) get them; the others are summed under
 *                 {@value KeyMetrics#OTHER_KEY}. Bounds the number of series however many keys exist.
 */
@Validated
@ConfigurationProperties("gateway.metrics")
public record MetricsProperties(
        @DefaultValue("20") @Min(1) int maxPools,
        @DefaultValue("20") @Min(1) int maxKeys) {

    /** The defaults (tests, tools). */
    public static MetricsProperties defaults() {
        return new MetricsProperties(20, 20);
    }
}
