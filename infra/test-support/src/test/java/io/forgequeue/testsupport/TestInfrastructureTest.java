package io.forgequeue.testsupport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.entry;

import java.util.Map;
import org.junit.jupiter.api.Test;

class TestInfrastructureTest {

    private final RabbitEndpoint rabbit =
            new RabbitEndpoint("127.0.0.1", 5702, "guest", "guest", 15702, "it_fq1_abcdef");
    private final PostgresEndpoint postgres = new PostgresEndpoint("127.0.0.1", 55433, "postgres", "", "db_fq1_abcdef");

    @Test
    void springPropertiesNameBrokerAndDatabase() {
        Map<String, String> properties = TestInfrastructure.springProperties(rabbit, postgres);

        assertThat(properties)
                .containsExactly(
                        entry("spring.rabbitmq.addresses", "127.0.0.1:5702"),
                        entry("spring.rabbitmq.username", "guest"),
                        entry("spring.rabbitmq.password", "guest"),
                        entry("spring.rabbitmq.virtual-host", "it_fq1_abcdef"),
                        entry("spring.datasource.url", "jdbc:postgresql://127.0.0.1:55433/db_fq1_abcdef"),
                        entry("spring.datasource.username", "postgres"),
                        entry("spring.datasource.password", ""));
    }

    @Test
    void springPropertiesLeaveOutAMissingEndpoint() {
        assertThat(TestInfrastructure.springProperties(null, postgres))
                .containsOnlyKeys("spring.datasource.url", "spring.datasource.username", "spring.datasource.password");
        assertThat(TestInfrastructure.springProperties(rabbit, null))
                .containsOnlyKeys(
                        "spring.rabbitmq.addresses",
                        "spring.rabbitmq.username",
                        "spring.rabbitmq.password",
                        "spring.rabbitmq.virtual-host");
        assertThat(TestInfrastructure.springProperties(null, null)).isEmpty();
    }

    @Test
    void endpointsDoNotPrintPasswords() {
        RabbitEndpoint secret = new RabbitEndpoint("h", 5672, "u", "hunter2", 15672, "/");
        PostgresEndpoint secretDb = new PostgresEndpoint("h", 5432, "u", "hunter2", "d");

        assertThat(secret.toString()).doesNotContain("hunter2");
        assertThat(secretDb.toString()).doesNotContain("hunter2");
    }
}
