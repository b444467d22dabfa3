package io.forgequeue.testsupport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

import java.util.Map;
import org.junit.jupiter.api.Test;

class EnvironmentEndpointsTest {

    @Test
    void noVariablesMeansNoEndpoint() {
        Map<String, String> env = Map.of("PATH", "/usr/bin");

        assertThat(EnvironmentEndpoints.rabbit(env)).isEmpty();
        assertThat(EnvironmentEndpoints.postgres(env)).isEmpty();
    }

    @Test
    void blankAddressCountsAsUnset() {
        Map<String, String> env = Map.of("FQ_TEST_RABBIT_ADDRESS", "  ", "FQ_TEST_PG_JDBC_URL", "");

        assertThat(EnvironmentEndpoints.rabbit(env)).isEmpty();
        assertThat(EnvironmentEndpoints.postgres(env)).isEmpty();
    }

    @Test
    void rabbitAddressWithAllVariablesIsTakenAsGiven() {
        Map<String, String> env = Map.of(
                "FQ_TEST_RABBIT_ADDRESS", "broker.internal:5673",
                "FQ_TEST_RABBIT_MANAGEMENT_PORT", "8443",
                "FQ_TEST_RABBIT_USER", "ci",
                "FQ_TEST_RABBIT_PASSWORD", "s3cret");

        RabbitEndpoint rabbit = EnvironmentEndpoints.rabbit(env).orElseThrow();

        assertThat(rabbit).isEqualTo(new RabbitEndpoint("broker.internal", 5673, "ci", "s3cret", 8443, "/"));
        assertThat(rabbit.addresses()).isEqualTo("broker.internal:5673");
    }

    @Test
    void rabbitDefaultsAreGuestAndManagementOnPortPlusTenThousand() {
        RabbitEndpoint rabbit = EnvironmentEndpoints.rabbit(Map.of("FQ_TEST_RABBIT_ADDRESS", "127.0.0.1:5702"))
                .orElseThrow();

        assertThat(rabbit).isEqualTo(new RabbitEndpoint("127.0.0.1", 5702, "guest", "guest", 15702, "/"));
    }

    @Test
    void rabbitAddressWithoutPortUsesTheAmqpDefault() {
        RabbitEndpoint rabbit = EnvironmentEndpoints.rabbit(Map.of("FQ_TEST_RABBIT_ADDRESS", "rabbit"))
                .orElseThrow();

        assertThat(rabbit.port()).isEqualTo(5672);
        assertThat(rabbit.managementPort()).isEqualTo(15672);
    }

    @Test
    void rabbitIpv6AddressKeepsItsBracketsOnlyInAddresses() {
        RabbitEndpoint rabbit = EnvironmentEndpoints.rabbit(Map.of("FQ_TEST_RABBIT_ADDRESS", "[::1]:5702"))
                .orElseThrow();

        assertThat(rabbit.host()).isEqualTo("::1");
        assertThat(rabbit.addresses()).isEqualTo("[::1]:5702");
    }

    @Test
    void malformedRabbitAddressesAreRejectedNamingTheVariable() {
        for (String bad : new String[] {"host:abc", "host:", "host:70000", "a:5672,b:5672", "amqp://host:5672"}) {
            assertThatIllegalArgumentException()
                    .as(bad)
                    .isThrownBy(() -> EnvironmentEndpoints.rabbit(Map.of("FQ_TEST_RABBIT_ADDRESS", bad)))
                    .withMessageContaining("FQ_TEST_RABBIT_ADDRESS");
        }
    }

    @Test
    void malformedManagementPortIsRejectedNamingTheVariable() {
        Map<String, String> env = Map.of("FQ_TEST_RABBIT_ADDRESS", "h:5672", "FQ_TEST_RABBIT_MANAGEMENT_PORT", "http");

        assertThatIllegalArgumentException()
                .isThrownBy(() -> EnvironmentEndpoints.rabbit(env))
                .withMessageContaining("FQ_TEST_RABBIT_MANAGEMENT_PORT");
    }

    @Test
    void jdbcUrlIsSplitIntoHostPortAndDatabase() {
        Map<String, String> env = Map.of(
                "FQ_TEST_PG_JDBC_URL", "jdbc:postgresql://db.internal:6543/forge?sslmode=disable",
                "FQ_TEST_PG_USER", "ci",
                "FQ_TEST_PG_PASSWORD", "pw");

        PostgresEndpoint postgres = EnvironmentEndpoints.postgres(env).orElseThrow();

        assertThat(postgres).isEqualTo(new PostgresEndpoint("db.internal", 6543, "ci", "pw", "forge"));
        assertThat(postgres.jdbcUrl()).isEqualTo("jdbc:postgresql://db.internal:6543/forge");
    }

    @Test
    void jdbcUrlDefaultsArePort5432UserPostgresAndEmptyPassword() {
        PostgresEndpoint postgres = EnvironmentEndpoints.postgres(
                        Map.of("FQ_TEST_PG_JDBC_URL", "jdbc:postgresql://localhost/app"))
                .orElseThrow();

        assertThat(postgres).isEqualTo(new PostgresEndpoint("localhost", 5432, "postgres", "", "app"));
    }

    @Test
    void credentialsInTheUrlAreUsedWhenTheVariablesAreUnset() {
        PostgresEndpoint postgres = EnvironmentEndpoints.postgres(
                        Map.of("FQ_TEST_PG_JDBC_URL", "jdbc:postgresql://h:5432/app?user=bob&password=a%26b"))
                .orElseThrow();

        assertThat(postgres.username()).isEqualTo("bob");
        assertThat(postgres.password()).isEqualTo("a&b");
    }

    @Test
    void malformedJdbcUrlsAreRejectedNamingTheVariable() {
        for (String bad : new String[] {
            "postgresql://h:5432/app",
            "jdbc:mysql://h/app",
            "jdbc:postgresql://h:5432",
            "jdbc:postgresql://h:5432/",
            "jdbc:postgresql://a:5432,b:5432/app",
            "jdbc:postgresql://h:x/app"
        }) {
            assertThatIllegalArgumentException()
                    .as(bad)
                    .isThrownBy(() -> EnvironmentEndpoints.postgres(Map.of("FQ_TEST_PG_JDBC_URL", bad)))
                    .withMessageContaining("FQ_TEST_PG_JDBC_URL");
        }
    }
}
