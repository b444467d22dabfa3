package io.forgequeue.worker.system;

import io.forgequeue.model.Topology;
import org.springframework.amqp.core.Binding;
import org.springframework.amqp.core.Declarables;
import org.springframework.amqp.core.Queue;
import org.springframework.amqp.core.QueueBuilder;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The part of the broker topology this worker owns, declared at startup (and again after every reconnect) by
 * Spring's RabbitAdmin: its own job and control queues and the control queue's binding, nothing else (the gateway
 * declares the shared names). The queues are exclusive to its connection: they never outlive it, and the scheduler,
 * not the broker, decides what it runs.
 */
@Configuration(proxyBeanMethods = false)
public class AmqpTopologyConfiguration {

    /**
     * This worker's own job queue, fed only by the scheduler through the broker's default exchange (routing key = the
     * queue's name, {@link Topology#HANDOUT_EXCHANGE}): it is bound there implicitly, so the worker binds it nowhere
     * and needs no right on any job exchange; an unreadable message dead-letters to the pool's dead-letter queue.
     * Exclusive, so it is deleted with the consumer connection, but not auto-delete: it outlives a pause of the
     * consumer (what reaches it meanwhile is purged on resuming, {@code ConsumptionControl}), rather than vanish with
     * the consumer and have the scheduler's messages returned while the worker still announces READY.
     */
    @Bean
    Queue jobQueue(WorkerProperties worker) {
        return QueueBuilder.nonDurable(Topology.workerQueue(worker.id()))
                .exclusive()
                .withArguments(Topology.workerQueueArguments(worker.pool()))
                .build();
    }

    /** This worker's own control queue: it lives as long as the worker's connection. */
    @Bean
    Queue controlQueue(WorkerProperties worker) {
        return QueueBuilder.nonDurable(Topology.controlQueue(worker.id()))
                .exclusive()
                .autoDelete()
                .build();
    }

    /**
     * Only this worker's own binding: its control queue to {@code forge.control}. The shared names (the exchanges,
     * {@code forge.events.persist}, the pools' dead-letter queues) belong to the gateway, which declares them: a
     * worker's broker user has no configure right on them (least privilege, README "Security"). Exchanges are not
     * declared here, so Spring's admin does not declare them either; until a gateway has declared
     * {@code forge.control} the binding fails and the listener containers retry (a worker started before any gateway
     * waits for one, {@link SharedTopologyGate}).
     */
    @Bean
    Declarables forgeTopology(Queue controlQueue) {
        Binding controlBinding =
                new Binding(controlQueue.getName(), Binding.DestinationType.QUEUE, Topology.CONTROL_EXCHANGE, "", null);
        return new Declarables(controlBinding);
    }
}
