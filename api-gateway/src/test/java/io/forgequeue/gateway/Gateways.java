package io.forgequeue.gateway;

import io.forgequeue.testsupport.PostgresEndpoint;
import io.forgequeue.testsupport.RabbitEndpoint;
import io.forgequeue.testsupport.TestInfrastructure;
import java.util.ArrayList;
import java.util.List;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;

/** Starts extra gateway instances (own Spring contexts, random ports) against a given broker and database. */
final class Gateways {

    /**
     * A worker that has not announced itself for this long is lost. Test workers announce every 250 ms
     * ({@link TestWorker#INTERVAL}), so ten announcements must go missing: short enough for tests of lost workers,
     * long enough that a loaded machine does not lose a live one.
     */
    static final String PRESENCE_TIMEOUT = "gateway.fleet.presence-timeout=2500ms";
    /** The scheduler looks at the fleet at least this often (it also wakes on every change). */
    static final String SCHEDULER_TICK = "gateway.scheduler.tick=50ms";
    /**
     * An assignment is taken for lost when its worker reported twice that it holds nothing, the first time this long
     * after the assignment. Longer than the default (1 s): on a loaded machine a job message can take more than a
     * second to reach a test worker, which would then get the job twice.
     */
    static final String LOST_MESSAGE_GRACE = "gateway.scheduler.lost-message-grace=3s";
    /** A low-priority job competes as normal after this wait (tests of the promotion wait this long). */
    static final String LOW_PRIORITY_MAX_WAIT = "gateway.scheduler.low-priority-max-wait=8s";

    private Gateways() {}

    static ConfigurableApplicationContext start(RabbitEndpoint rabbit, PostgresEndpoint db, String... properties) {
        List<String> args = new ArrayList<>();
        TestInfrastructure.springProperties(rabbit, db).forEach((k, v) -> args.add("--" + k + "=" + v));
        args.add("--server.port=0");
        args.add("--management.server.port=0");
        args.add("--spring.main.banner-mode=off");
        args.add("--gateway.outbox.sweep-interval=200ms");
        args.add("--gateway.queue.refresh-interval=200ms");
        for (String p : List.of(PRESENCE_TIMEOUT, SCHEDULER_TICK, LOST_MESSAGE_GRACE, LOW_PRIORITY_MAX_WAIT)) {
            args.add("--" + p);
        }
        for (String p : properties) {
            args.add("--" + p);
        }
        return new SpringApplicationBuilder(GatewayApplication.class).run(args.toArray(new String[0]));
    }

    static int port(ConfigurableApplicationContext context) {
        return Integer.parseInt(context.getEnvironment().getProperty("local.server.port"));
    }

    /** The actuator's own port (management.server.port), never the public one. */
    static int managementPort(ConfigurableApplicationContext context) {
        return Integer.parseInt(context.getEnvironment().getProperty("local.management.port"));
    }

    /** The actuator of the gateway: health, probes and Prometheus. */
    static Api management(ConfigurableApplicationContext context) {
        return new Api(managementPort(context));
    }
}
