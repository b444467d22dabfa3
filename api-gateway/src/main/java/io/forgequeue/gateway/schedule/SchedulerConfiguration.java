package io.forgequeue.gateway.schedule;

import io.forgequeue.gateway.queue.QueueIndex;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** The queue index, ordered by the configured policy (every gateway keeps one; the leader also dispatches). */
@Configuration(proxyBeanMethods = false)
class SchedulerConfiguration {

    @Bean
    QueueIndex queueIndex(SchedulerProperties properties) {
        return new QueueIndex(
                properties.policy().order(),
                properties.policy().usesPriorities(),
                properties.policy().placesByCheckpoint(),
                System::nanoTime);
    }
}
