package io.forgequeue.gateway;

import io.forgequeue.gateway.apikey.ApiKeys;
import io.forgequeue.testsupport.PostgresEndpoint;
import io.forgequeue.testsupport.RabbitEndpoint;
import io.forgequeue.testsupport.TestInfrastructure;
import io.micrometer.core.instrument.MeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * One gateway context (real RabbitMQ virtual host, real PostgreSQL database) shared by every integration test
 * class that extends this: Spring caches it, so it starts once per test JVM. Tests isolate themselves by using
 * their own API keys and their own pool names (queue positions are per pool).
 */
@SpringBootTest(classes = GatewayApplication.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {
                "gateway.instance-id=it-shared",
                "gateway.jobs.max-in-flight=100",
                "gateway.jobs.samplers=Euler a,DPM++ 2M",
                "gateway.websocket.auth-timeout=1s",
                "gateway.websocket.position-debounce=50ms",
                "gateway.outbox.sweep-interval=200ms",
                "gateway.queue.refresh-interval=200ms",
                "gateway.web.max-body-bytes=65536"})
abstract class IntegrationTestBase {

    static final RabbitEndpoint RABBIT = TestInfrastructure.rabbit().withFreshVirtualHost("gateway-it");
    static final PostgresEndpoint DB = TestInfrastructure.postgres().withFreshDatabase("gateway_it");
    static final Broker BROKER = new Broker(RABBIT);

    @DynamicPropertySource
    static void infrastructure(DynamicPropertyRegistry registry) {
        TestInfrastructure.springProperties(RABBIT, DB).forEach((name, value) -> registry.add(name, () -> value));
    }

    @LocalServerPort
    int port;

    @Autowired
    ApiKeys apiKeys;

    @Autowired
    JdbcTemplate jdbc;

    @Autowired
    MeterRegistry meters;

    /** No test may make the merge fail: an event dropped for an error would be lost. */
    @AfterEach
    void noEventWasDroppedForAnError() {
        assertThat(counter("gpu.gateway.events.rejected", "reason", "error")).isZero();
    }

    Api api() {
        return new Api(port);
    }

    /** A new API key (stored hashed), unique to the calling test. */
    String newKey() {
        String raw = "test-" + UUID.randomUUID();
        apiKeys.ensure("key-" + raw.substring(5, 13), raw);
        return raw;
    }

    /** A pool name unique to the calling test, so queue positions are not shared with other tests. */
    static String newPool() {
        return "p" + UUID.randomUUID().toString().substring(0, 8);
    }

    double counter(String name, String tag, String value) {
        var counter = tag == null ? meters.find(name).counter() : meters.find(name).tag(tag, value).counter();
        return counter == null ? 0 : counter.count();
    }
}
