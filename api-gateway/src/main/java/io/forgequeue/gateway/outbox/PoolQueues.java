package io.forgequeue.gateway.outbox;

import io.forgequeue.gateway.job.JobProperties;
import io.forgequeue.model.Topology;
import org.springframework.amqp.core.AmqpAdmin;
import org.springframework.amqp.core.Binding;
import org.springframework.amqp.core.BindingBuilder;
import org.springframework.amqp.core.Declarable;
import org.springframework.amqp.core.Declarables;
import org.springframework.amqp.core.DirectExchange;
import org.springframework.amqp.core.Queue;
import org.springframework.amqp.core.QueueBuilder;
import org.springframework.amqp.rabbit.connection.ConnectionFactory;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Job queues of pools (quorum, with the contract's arguments and dead-letter queue). The default pool and the
 * configured ones are declared as beans (re-declared after every reconnect); any other valid pool is declared
 * just before its first job message is published, and again after a reconnect.
 */
@Configuration(proxyBeanMethods = false)
class PoolQueues {

    private final Set<String> declared = ConcurrentHashMap.newKeySet();

    @Bean
    Declarables poolTopology(JobProperties jobs) {
        Set<String> pools = new LinkedHashSet<>();
        pools.add(Topology.DEFAULT_POOL);
        pools.addAll(jobs.pools());
        List<Declarable> all = new ArrayList<>();
        for (String pool : pools) {
            all.addAll(declarables(pool));
        }
        return new Declarables(all);
    }

    @Bean
    PoolQueueDeclarer poolQueueDeclarer(AmqpAdmin admin, ConnectionFactory connectionFactory) {
        connectionFactory.addConnectionListener(connection -> declared.clear());
        return new PoolQueueDeclarer() {
            @Override
            public void ensure(String pool) {
                if (!declared.contains(pool)) {
                    for (Declarable d : declarables(pool)) {
                        if (d instanceof Queue q) {
                            admin.declareQueue(q);
                        } else if (d instanceof Binding b) {
                            admin.declareBinding(b);
                        }
                    }
                    declared.add(pool);
                }
            }

            @Override
            public void forget(String pool) {
                declared.remove(pool);
            }
        };
    }

    /** Declares the job queue of a pool unless this instance did since its last (re)connect. */
    interface PoolQueueDeclarer {
        void ensure(String pool);

        /** The pool's queue turned out to be missing (a message came back): declare it again next time. */
        void forget(String pool);
    }

    static List<Declarable> declarables(String pool) {
        Queue jobs = QueueBuilder.durable(Topology.jobQueue(pool)).withArguments(Topology.jobQueueArguments(pool)).build();
        Queue dead = QueueBuilder.durable(Topology.deadLetterQueue(pool))
                .withArguments(Topology.quorumQueueArguments()).build();
        DirectExchange exchange = new DirectExchange(Topology.JOBS_EXCHANGE, true, false);
        DirectExchange dlx = new DirectExchange(Topology.JOBS_DEAD_LETTER_EXCHANGE, true, false);
        return List.of(jobs, dead, BindingBuilder.bind(jobs).to(exchange).with(pool),
                BindingBuilder.bind(dead).to(dlx).with(pool));
    }
}
