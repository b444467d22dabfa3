package io.forgequeue.gateway.outbox;

import io.forgequeue.gateway.fleet.WorkerDirectory;
import io.forgequeue.model.Topology;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.amqp.AmqpException;
import org.springframework.amqp.core.AmqpAdmin;
import org.springframework.amqp.core.Binding;
import org.springframework.amqp.core.QueueBuilder;
import org.springframework.stereotype.Component;

/**
 * The dead-letter queue of every pool a worker announces, declared by the gateway: workers have no configure right on
 * shared names (README "Security"), so a worker of a pool the gateway's configuration does not list
 * ({@link DeadLetterQueues} declares the default and the configured pools at start) would otherwise dead-letter into
 * nothing. Declared once per pool and gateway (idempotent; a failure is tried again at the next fleet change).
 */
@Component
class PoolDeadLetterQueues {

    private static final Logger log = LoggerFactory.getLogger(PoolDeadLetterQueues.class);

    private final AmqpAdmin admin;
    private final WorkerDirectory fleet;
    private final Set<String> declared = ConcurrentHashMap.newKeySet();

    PoolDeadLetterQueues(AmqpAdmin admin, WorkerDirectory fleet) {
        this.admin = admin;
        this.fleet = fleet;
        fleet.onChange(this::declareNewPools);
    }

    private void declareNewPools() {
        for (String pool : fleet.byPool().keySet()) {
            if (declared.contains(pool) || !Topology.isValidPool(pool)) {
                continue;
            }
            try {
                String queue = Topology.deadLetterQueue(pool);
                admin.declareQueue(QueueBuilder.durable(queue)
                        .withArguments(Topology.quorumQueueArguments())
                        .build());
                admin.declareBinding(new Binding(
                        queue, Binding.DestinationType.QUEUE, Topology.JOBS_DEAD_LETTER_EXCHANGE, pool, null));
                declared.add(pool);
                log.debug("Dead-letter queue {} declared for pool {}", queue, pool);
            } catch (AmqpException e) {
                log.warn("Dead-letter queue of pool {} not declared yet: {}", pool, e.getMessage());
            }
        }
    }
}
