package io.forgequeue.gateway.relay;

import io.forgequeue.gateway.apikey.ApiKeys;
import io.forgequeue.gateway.system.InstanceProperties;
import io.forgequeue.model.Topology;
import java.util.concurrent.atomic.AtomicBoolean;
import org.springframework.amqp.rabbit.connection.ConnectionFactory;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.socket.config.annotation.EnableWebSocket;
import org.springframework.web.socket.config.annotation.WebSocketConfigurer;
import org.springframework.web.socket.config.annotation.WebSocketHandlerRegistry;
import org.springframework.web.socket.server.standard.ServletServerContainerFactoryBean;

/** The {@code /ws} endpoint, its container limits, and this instance's relay queue name. */
@Configuration(proxyBeanMethods = false)
@EnableWebSocket
class RelayConfiguration implements WebSocketConfigurer {

    private final JobSocketHandler handler;
    private final ApiKeys keys;
    private final RelayProperties properties;

    RelayConfiguration(
            JobSocketHandler handler,
            ApiKeys keys,
            RelayProperties properties,
            ConnectionFactory connectionFactory,
            SessionReconciler reconciler) {
        this.handler = handler;
        this.keys = keys;
        this.properties = properties;
        AtomicBoolean first = new AtomicBoolean(true);
        connectionFactory.addConnectionListener(connection -> {
            if (!first.getAndSet(false)) {
                reconciler.reconcileSoon(); // relay messages may have been lost while disconnected
            }
        });
    }

    @Override
    public void registerWebSocketHandlers(WebSocketHandlerRegistry registry) {
        registry.addHandler(handler, "/ws")
                .addInterceptors(new HeaderAuthInterceptor(keys))
                .setAllowedOriginPatterns(properties.allowedOrigins().toArray(new String[0]));
    }

    @Bean
    ServletServerContainerFactoryBean webSocketContainer() {
        ServletServerContainerFactoryBean container = new ServletServerContainerFactoryBean();
        container.setMaxTextMessageBufferSize(properties.maxFrameBytes());
        container.setMaxBinaryMessageBufferSize(1024);
        container.setAsyncSendTimeout(properties.sendTimeout().toMillis());
        return container;
    }

    @Bean
    RelayQueueName relayQueueName(InstanceProperties instance) {
        return new RelayQueueName(Topology.relayQueue(instance.instanceId()));
    }

    /** Name of this instance's relay queue, for the listener annotation. */
    record RelayQueueName(String value) {}
}
