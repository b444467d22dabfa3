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
 * Spring's RabbitAdmin: its own job and control queues and their bindings, nothing else (the gateway declares the
 * shared names). The queues are exclusive to its connection: they never outlive it, and the scheduler, not the
 * broker, decides what it runs.
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
     * Only this worker's own bindings. The shared names (the exchanges, {@code forge.events.persist}, the pools'
     * dead-letter queues) belong to the gateway, which declares them: a worker's broker user has no configure right
     * on them (least privilege, README "Security"). Exchanges are not declared here, so Spring's admin does not
     * declare them either; until a gateway has declared {@code forge.jobs} and {@code forge.control} the bindings
     * fail and the listener containers retry (a worker started before any gateway waits for one).
     */
    @Bean
    Declarables forgeTopology(WorkerProperties worker, Queue jobQueue, Queue controlQueue) {
        Binding jobBinding = new Binding(
                jobQueue.getName(),
                Binding.DestinationType.QUEUE,
                Topology.JOBS_EXCHANGE,
                Topology.workerRoutingKey(worker.id()),
                null);
        Binding controlBinding =
                new Binding(controlQueue.getName(), Binding.DestinationType.QUEUE, Topology.CONTROL_EXCHANGE, "", null);
        return new Declarables(jobBinding, controlBinding);
    }
}
