package io.forgequeue.gateway.retention;

import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * Data retention ({@code gateway.retention.*}; docs/data-retention.md): how long a finished job keeps its prompts and
 * images before every gateway's sweep erases them (the job stays as a tombstone).
 *
 * @param after         how long after it finished a job keeps its data; zero: forever (no sweep)
 * @param interval      how often each gateway looks for jobs past it
 * @param batchSize     most jobs erased by one statement (one transaction: its images' rows are deleted together)
 * @param maxBatches    most statements per sweep; a backlog beyond is left for the next sweep
 * @param statsInterval how often each gateway counts what the database holds ({@code gpu.gateway.retention.stored.*}
 *                      and {@code .due.jobs}: a scan of the image table's rows)
 */
@Validated
@ConfigurationProperties("gateway.retention")
public record RetentionProperties(
        @DefaultValue("30d") @NotNull Duration after,
        @DefaultValue("1m") @NotNull Duration interval,
        @DefaultValue("100") @Min(1) int batchSize,
        @DefaultValue("50") @Min(1) int maxBatches,
        @DefaultValue("5m") @NotNull Duration statsInterval) {

    /** Whether finished jobs' data are erased at all. */
    public boolean enabled() {
        return !after.isZero() && !after.isNegative();
    }
}
