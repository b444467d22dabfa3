package io.forgequeue.gateway.system;

import org.springframework.amqp.rabbit.core.RabbitTemplate;

/**
 * The mandatory, confirm-correlated template for job messages, as a typed holder so it can be injected
 * without a qualifier.
 *
 * @param template publishes with {@code mandatory=true}; a returned message is reported on its correlation data
 */
public record JobMessageTemplate(RabbitTemplate template) {}
