package io.forgequeue.gateway.fleet;

import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * How the gateway tells live workers from lost ones ({@code gateway.fleet.*}).
 *
 * @param presenceTimeout a worker that has not announced itself for this long is taken for lost (killed, frozen,
 *                        cut off): it gets no job, and the scheduler gives its jobs to others. Workers announce
 *                        themselves every second by default, so a few seconds tolerate a busy broker
 * @param forgetAfter     a lost worker is dropped from the directory (and from the overview) after this long
 */
@Validated
@ConfigurationProperties("gateway.fleet")
public record FleetProperties(
        @DefaultValue("5s") Duration presenceTimeout,
        @DefaultValue("10m") Duration forgetAfter) {}
