package io.forgequeue.gateway;

import io.forgequeue.testsupport.PostgresEndpoint;
import io.forgequeue.testsupport.RabbitEndpoint;
import io.forgequeue.testsupport.TestInfrastructure;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;

import java.util.ArrayList;
import java.util.List;

/** Starts extra gateway instances (own Spring contexts, random ports) against a given broker and database. */
final class Gateways {

    private Gateways() {
    }

    static ConfigurableApplicationContext start(RabbitEndpoint rabbit, PostgresEndpoint db, String... properties) {
        List<String> args = new ArrayList<>();
        TestInfrastructure.springProperties(rabbit, db).forEach((k, v) -> args.add("--" + k + "=" + v));
        args.add("--server.port=0");
        args.add("--spring.main.banner-mode=off");
        args.add("--gateway.outbox.sweep-interval=200ms");
        args.add("--gateway.queue.refresh-interval=200ms");
        for (String p : properties) {
            args.add("--" + p);
        }
        return new SpringApplicationBuilder(GatewayApplication.class).run(args.toArray(new String[0]));
    }

    static int port(ConfigurableApplicationContext context) {
        return Integer.parseInt(context.getEnvironment().getProperty("local.server.port"));
    }
}
