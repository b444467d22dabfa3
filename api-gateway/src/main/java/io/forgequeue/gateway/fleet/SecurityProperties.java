package io.forgequeue.gateway.fleet;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * How the gateway trusts worker messages ({@code gateway.security.*}; README "Security").
 *
 * @param requirePublisher whether a worker must announce itself with a broker user ({@code user_id}, which RabbitMQ
 *                         validates against the connection's user): an announcement without one is refused and
 *                         counted, so every worker the scheduler hands jobs to has a known user and only that user's
 *                         events and previews count for its jobs. Off only for a deployment whose workers share one
 *                         broker user and do not set {@code user_id} (older workers): they are admitted, and their
 *                         jobs are fenced by assignment (attempt, worker id) alone
 */
@Validated
@ConfigurationProperties("gateway.security")
public record SecurityProperties(@DefaultValue("true") boolean requirePublisher) {}
