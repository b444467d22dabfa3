package io.forgequeue.gateway.outbox;

import io.forgequeue.gateway.job.JobProperties;
import io.forgequeue.model.Topology;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.springframework.amqp.core.BindingBuilder;
import org.springframework.amqp.core.Declarable;
import org.springframework.amqp.core.Declarables;
import org.springframework.amqp.core.DirectExchange;
import org.springframework.amqp.core.Queue;
import org.springframework.amqp.core.QueueBuilder;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The dead-letter queues of the default pool and the configured pools ({@code forge.jobs.<pool>.dead}, quorum),
 * where a job message a worker could not read ends up for operators; the pools workers announce get theirs from
 * {@link PoolDeadLetterQueues} (workers declare nothing shared).
 * Re-declared after every reconnect.
 */
@Configuration(proxyBeanMethods = false)
class DeadLetterQueues {

    @Bean
    Declarables deadLetterTopology(JobProperties jobs) {
        Set<String> pools = new LinkedHashSet<>();
        pools.add(Topology.DEFAULT_POOL);
        pools.addAll(jobs.pools());
        DirectExchange dlx = new DirectExchange(Topology.JOBS_DEAD_LETTER_EXCHANGE, true, false);
        List<Declarable> all = new ArrayList<>();
        all.add(dlx);
        for (String pool : pools) {
            Queue dead = QueueBuilder.durable(Topology.deadLetterQueue(pool))
                    .withArguments(Topology.quorumQueueArguments())
                    .build();
            all.add(dead);
            all.add(BindingBuilder.bind(dead).to(dlx).with(pool));
        }
        return new Declarables(all);
    }
}
