package io.forgequeue.worker.system;

import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.amqp.rabbit.config.ContainerCustomizer;
import org.springframework.amqp.rabbit.listener.SimpleMessageListenerContainer;
import org.springframework.boot.amqp.autoconfigure.RabbitTemplateCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.support.AbstractApplicationContext;
import org.springframework.context.support.DefaultLifecycleProcessor;
import org.springframework.core.env.Environment;

/**
 * Publishing and consuming settings that application.yml cannot express. The rest (publisher confirms
 * {@code correlated}, returns, {@code mandatory}, {@code prefetch 1}, {@code AUTO} ack) is in application.yml.
 */
@Configuration(proxyBeanMethods = false)
public class AmqpConfiguration {

    private static final Logger log = LoggerFactory.getLogger(AmqpConfiguration.class);

    /** Time the worker needs after the grace period: interrupting Forge, its answer, the REQUEUED confirm. */
    static final Duration AFTER_GRACE = Duration.ofSeconds(30);

    /**
     * Events go over a separate publisher connection (so a blocked publisher never stalls the consumers), and an
     * event the broker could not route is logged (the publisher also sees it on the event's CorrelationData).
     */
    @Bean
    RabbitTemplateCustomizer eventTemplateCustomizer(WorkerMetrics metrics) {
        return template -> {
            template.setUsePublisherConnection(true);
            template.setReturnsCallback(returned -> {
                log.warn(
                        "Message(routingKey={}) returned by the broker: {} {}",
                        returned.getRoutingKey(),
                        returned.getReplyCode(),
                        returned.getReplyText());
                metrics.event("unknown", "returned");
            });
        };
    }

    /**
     * On shutdown a listener container waits for its running listener; the job listener may need the whole grace
     * period plus the time to give its job back.
     */
    @Bean
    ContainerCustomizer<SimpleMessageListenerContainer> shutdownTimeoutCustomizer(WorkerProperties worker) {
        return container -> {
            container.setShutdownTimeout(
                    worker.shutdownGrace().plus(AFTER_GRACE).toMillis());
            container.setErrorHandler(new QuietListenerErrorHandler());
        };
    }

    /** Spring waits this long per shutdown phase; it must outlast the listener container's shutdown. */
    @Bean(AbstractApplicationContext.LIFECYCLE_PROCESSOR_BEAN_NAME)
    static DefaultLifecycleProcessor lifecycleProcessor(Environment environment) {
        Duration grace = environment.getProperty("worker.shutdown-grace", Duration.class, Duration.ofSeconds(30));
        DefaultLifecycleProcessor processor = new DefaultLifecycleProcessor();
        processor.setTimeoutPerShutdownPhase(
                grace.plus(AFTER_GRACE).plusSeconds(10).toMillis());
        return processor;
    }
}
