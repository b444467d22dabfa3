package io.forgequeue.gateway.job;

import jakarta.validation.constraints.Min;
import java.time.Duration;
import java.util.List;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * Job submission rules ({@code gateway.jobs.*}). Field limits are not here: they are {@code JobSpec.Limits} in
 * common-model, the one place they are written.
 *
 * @param retryAfter           the Retry-After sent with the 429 of a key over its {@code maxQueued} quota
 * @param pools                pools a job may name; empty = any valid pool name
 * @param samplers             sampler names accepted; empty = unknown list, any valid name is accepted
 * @param checkpoints          checkpoint names accepted; empty = any valid name
 * @param idempotencyRetention how long an Idempotency-Key is remembered
 * @param outboxLease          how long this instance owns the outbox entry of a cancel it just stored (it publishes
 *                             it right after commit; after the lease any instance's sweep may)
 * @param maxCost              the most GPU work one job may ask for, as width x height x steps x images,
 *                             besides the field limits (which alone allow 4 MP x 150 steps x 8 images); a job above it
 *                             is refused with 422. Default 629,145,600 = four 1024x1024 images at 150 steps; 0 = no
 *                             bound
 */
@Validated
@ConfigurationProperties("gateway.jobs")
public record JobProperties(
        @DefaultValue("10s") Duration retryAfter,
        @DefaultValue List<String> pools,
        @DefaultValue List<String> samplers,
        @DefaultValue List<String> checkpoints,
        @DefaultValue("24h") Duration idempotencyRetention,
        @DefaultValue("30s") Duration outboxLease,
        @DefaultValue("629145600") @Min(0) long maxCost) {

    public JobProperties {
        pools = List.copyOf(pools);
        samplers = List.copyOf(samplers);
        checkpoints = List.copyOf(checkpoints);
    }
}
