package io.forgequeue.gateway.outbox;

import jakarta.validation.constraints.Min;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * The outbox relay ({@code gateway.outbox.*}). Entries are published right after their commit by the instance
 * that wrote them; the sweep is the safety net (crash, broker outage, lost confirm).
 *
 * @param sweepInterval      how often unsent entries whose lease expired (or was released) are claimed and published
 * @param batchSize          most entries one sweep claims
 * @param lease              how long a claim lasts before another instance may take the entry over
 * @param maxReturnAttempts  a job message the broker returns (no queue for its pool) this many times fails the job
 *                           with DISPATCH_FAILED; before that the pool's queue is declared again and it is retried
 * @param retention          sent entries are deleted after this long
 */
@Validated
@ConfigurationProperties("gateway.outbox")
public record OutboxProperties(
        @DefaultValue("1s") Duration sweepInterval,
        @DefaultValue("500") @Min(1) int batchSize,
        @DefaultValue("30s") Duration lease,
        @DefaultValue("5") @Min(1) int maxReturnAttempts,
        @DefaultValue("1h") Duration retention) {}
