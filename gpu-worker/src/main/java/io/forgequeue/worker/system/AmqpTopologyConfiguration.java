package io.forgequeue.worker.system;

import io.forgequeue.model.Topology;
import org.springframework.amqp.core.Binding;
import org.springframework.amqp.core.BindingBuilder;
import org.springframework.amqp.core.Declarables;
import org.springframework.amqp.core.DirectExchange;
import org.springframework.amqp.core.FanoutExchange;
import org.springframework.amqp.core.Queue;
import org.springframework.amqp.core.QueueBuilder;
import org.springframework.amqp.core.TopicExchange;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The broker topology of the contract this worker needs, declared at startup (and again after every reconnect) by
 * Spring's RabbitAdmin. The gateway declares the shared names with the same arguments, so whichever starts first
 * creates them and the other's declaration is a no-op. The worker's own job and control queues are exclusive to
 * its connection: they never outlive it, and the scheduler, not the broker, decides what it runs.
 */
@Configuration(proxyBeanMethods = false)
public class AmqpTopologyConfiguration {

    /**
     * This worker's own job queue, fed only by the scheduler (routing key {@code worker.<id>} on
     * {@code forge.jobs}); an unreadable message dead-letters to the pool's dead-letter queue. Exclusive, so it is
     * deleted with the consumer connection, but not auto-delete: it outlives a pause of the consumer (what reaches it
     * meanwhile is purged on resuming, {@code ConsumptionControl}), rather than vanish with the consumer and have the
     * scheduler's messages returned while the worker still announces READY.
     */
    @Bean
    Queue jobQueue(WorkerProperties worker) {
        return QueueBuilder.nonDurable(Topology.workerQueue(worker.id())).exclusive()
                .withArguments(Topology.workerQueueArguments(worker.pool()))
                .build();
    }

    /** This worker's own control queue: it lives as long as the worker's connection. */
    @Bean
    Queue controlQueue(WorkerProperties worker) {
        return QueueBuilder.nonDurable(Topology.controlQueue(worker.id())).exclusive().autoDelete().build();
    }

    @Bean
    Declarables forgeTopology(WorkerProperties worker, Queue jobQueue, Queue controlQueue) {
        String pool = worker.pool();
        DirectExchange jobs = new DirectExchange(Topology.JOBS_EXCHANGE, true, false);
        DirectExchange deadLetters = new DirectExchange(Topology.JOBS_DEAD_LETTER_EXCHANGE, true, false);
        TopicExchange events = new TopicExchange(Topology.EVENTS_EXCHANGE, true, false);
        FanoutExchange control = new FanoutExchange(Topology.CONTROL_EXCHANGE, true, false);
        Queue deadLetterQueue = QueueBuilder.durable(Topology.deadLetterQueue(pool))
                .withArguments(Topology.quorumQueueArguments()).build();
        Queue persist = QueueBuilder.durable(Topology.PERSIST_QUEUE)
                .withArguments(Topology.quorumQueueArguments()).build();
        Binding jobBinding = BindingBuilder.bind(jobQueue).to(jobs).with(Topology.workerRoutingKey(worker.id()));
        Binding deadLetterBinding = BindingBuilder.bind(deadLetterQueue).to(deadLetters).with(pool);
        Binding persistBinding = BindingBuilder.bind(persist).to(events).with(Topology.PERSIST_BINDING);
        Binding controlBinding = BindingBuilder.bind(controlQueue).to(control);
        return new Declarables(jobs, deadLetters, events, control, deadLetterQueue, persist,
                jobBinding, deadLetterBinding, persistBinding, controlBinding);
    }
}
