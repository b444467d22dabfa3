package io.forgequeue.gateway.queue;

import jakarta.validation.constraints.Min;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * Queue statistics and ETA ({@code gateway.queue.*}).
 *
 * @param refreshInterval     how often the statistics snapshot (depths, workers, job times) is refreshed
 * @param workerWindow        a worker counts as active when it sent an event within this window
 * @param historyWindow       finished jobs within this window feed the mean job time
 * @param historySamples      at most this many of the latest finished jobs feed the mean job time
 * @param minSamplesForRange  below this many samples the ETA has no range (only a point estimate)
 */
@Validated
@ConfigurationProperties("gateway.queue")
public record QueueProperties(
        @DefaultValue("1s") Duration refreshInterval,
        @DefaultValue("60s") Duration workerWindow,
        @DefaultValue("15m") Duration historyWindow,
        @DefaultValue("200") @Min(1) int historySamples,
        @DefaultValue("5") @Min(1) int minSamplesForRange) {}
