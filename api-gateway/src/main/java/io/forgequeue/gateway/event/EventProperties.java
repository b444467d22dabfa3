package io.forgequeue.gateway.event;

import jakarta.validation.constraints.Min;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * Event merging ({@code gateway.events.*}); read by the persist-queue listener's annotation.
 *
 * @param consumers    concurrent consumers of {@code forge.events.persist} on this instance (events of one job may
 *                     then be merged out of order, which the merge is built for)
 * @param mergeEnabled whether this instance merges events at all (an instance that only serves clients may not)
 * @param maxBatch     most events merged in one transaction: each consumer hands its events to its own merging
 *                     thread, which merges whatever has arrived meanwhile together (one commit, one multiple ack);
 *                     under light load a batch is a single event (merged in autocommit), so no event waits
 *                     for others
 */
@Validated
@ConfigurationProperties("gateway.events")
public record EventProperties(
        @DefaultValue("4") @Min(1) int consumers,
        @DefaultValue("true") boolean mergeEnabled,
        @DefaultValue("100") @Min(1) int maxBatch) {}
