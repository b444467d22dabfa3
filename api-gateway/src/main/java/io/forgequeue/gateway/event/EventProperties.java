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
 */
@Validated
@ConfigurationProperties("gateway.events")
public record EventProperties(@DefaultValue("4") @Min(1) int consumers, @DefaultValue("true") boolean mergeEnabled) {
}
