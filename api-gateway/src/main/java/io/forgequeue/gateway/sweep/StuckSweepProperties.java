package io.forgequeue.gateway.sweep;

import jakarta.validation.constraints.Min;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * The stuck-job sweep ({@code gateway.stuck-sweep.*}). Workers heartbeat every ~10 s while running.
 *
 * @param threshold a RUNNING job with no event for this long is failed with JOB_STUCK
 * @param interval  how often each gateway looks for such jobs
 * @param batchSize most jobs failed per sweep (the rest in the next one)
 */
@Validated
@ConfigurationProperties("gateway.stuck-sweep")
public record StuckSweepProperties(
        @DefaultValue("5m") Duration threshold,
        @DefaultValue("30s") Duration interval,
        @DefaultValue("100") @Min(1) int batchSize) {}
