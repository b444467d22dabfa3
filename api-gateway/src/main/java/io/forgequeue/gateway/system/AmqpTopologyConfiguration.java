package io.forgequeue.gateway.system;

import io.forgequeue.model.Topology;
import org.springframework.amqp.core.Binding;
import org.springframework.amqp.core.BindingBuilder;
import org.springframework.amqp.core.Declarables;
import org.springframework.amqp.core.DirectExchange;
import org.springframework.amqp.core.FanoutExchange;
import org.springframework.amqp.core.Queue;
import org.springframework.amqp.core.QueueBuilder;
import org.springframework.amqp.core.TopicExchange;
import org.springframework.amqp.rabbit.connection.ConnectionFactory;
import org.springframework.amqp.rabbit.core.RabbitTemplate;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.boot.amqp.autoconfigure.RabbitTemplateConfigurer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Primary;

/**
 * The broker topology of the contract (common-model {@link Topology}), declared idempotently by every gateway (the
 * workers declare only their own queues: their broker users may not configure shared names): exchanges, the shared
 * persist queue, the control fanout and this instance's relay queue (bound to
 * relay updates, previews and worker announcements). Job queues belong to the workers (each declares its own); job
 * messages reach them through the broker's default exchange ({@link Topology#HANDOUT_EXCHANGE}), which needs no
 * declaration and no binding.
 * Declarations are repeated by Spring's admin after every reconnect.
 */
@Configuration(proxyBeanMethods = false)
class AmqpTopologyConfiguration {

    /** Bean name of the template used for job messages: mandatory, so unroutable jobs come back. */
    static final String MANDATORY_TEMPLATE = "mandatoryRabbitTemplate";

    @Bean
    Declarables forgeTopology(InstanceProperties instance) {
        DirectExchange dlx = new DirectExchange(Topology.JOBS_DEAD_LETTER_EXCHANGE, true, false);
        TopicExchange events = new TopicExchange(Topology.EVENTS_EXCHANGE, true, false);
        FanoutExchange control = new FanoutExchange(Topology.CONTROL_EXCHANGE, true, false);
        Queue persist = QueueBuilder.durable(Topology.PERSIST_QUEUE)
                .withArguments(Topology.quorumQueueArguments())
                .build();
        Queue relay = new Queue(Topology.relayQueue(instance.instanceId()), false, true, true);
        Binding persistBinding = BindingBuilder.bind(persist).to(events).with(Topology.PERSIST_BINDING);
        Binding relayBinding = BindingBuilder.bind(relay).to(events).with(Topology.RELAY_BINDING);
        Binding workerBinding = BindingBuilder.bind(relay).to(events).with(Topology.WORKER_BINDING);
        return new Declarables(dlx, events, control, persist, relay, persistBinding, relayBinding, workerBinding);
    }

    /** Fire-and-forget publications (relay updates) and cancel commands: not mandatory. */
    @Bean
    @Primary
    RabbitTemplate rabbitTemplate(RabbitTemplateConfigurer configurer, ConnectionFactory connectionFactory) {
        RabbitTemplate template = new RabbitTemplate();
        configurer.configure(template, connectionFactory);
        template.setMandatory(false);
        return template;
    }

    /** Job messages: mandatory, with correlated confirms; a return means the worker's queue is gone. */
    @Bean(MANDATORY_TEMPLATE)
    RabbitTemplate mandatoryRabbitTemplate(RabbitTemplateConfigurer configurer, ConnectionFactory connectionFactory) {
        RabbitTemplate template = new RabbitTemplate();
        configurer.configure(template, connectionFactory);
        template.setMandatory(true);
        // a return is reported on the message's CorrelationData, where the outbox relay handles it
        template.setReturnsCallback(returned -> {});
        return template;
    }

    /** Exposes the mandatory template to other packages without leaking the bean name string. */
    @Bean
    JobMessageTemplate jobMessageTemplate(@Qualifier(MANDATORY_TEMPLATE) RabbitTemplate template) {
        return new JobMessageTemplate(template);
    }
}
