package io.forgequeue.testsupport;

import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import java.io.IOException;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.TimeoutException;

/** Proves an endpoint usable before it is handed to a test: never a silently unusable endpoint. */
final class Probes {

    private Probes() {}

    /** An AMQP connection opens and the management API answers for the endpoint's credentials. */
    static void rabbit(RabbitEndpoint endpoint) {
        ConnectionFactory factory = endpoint.connectionFactory();
        factory.setAutomaticRecoveryEnabled(false);
        factory.setConnectionTimeout(5_000);
        try (Connection connection = factory.newConnection("forge-queue-test-harness-probe")) {
            connection.createChannel().close();
        } catch (IOException | TimeoutException e) {
            throw new IllegalStateException(
                    "AMQP connection to " + endpoint.addresses() + " (user " + endpoint.username() + ") failed: " + e,
                    e);
        }
        new RabbitManagementClient(endpoint).checkReachable();
    }

    /** A JDBC connection opens and answers a query. */
    static void postgres(PostgresEndpoint endpoint) {
        try (java.sql.Connection connection = endpoint.connect();
                Statement statement = connection.createStatement()) {
            statement.execute("select 1");
        } catch (SQLException e) {
            throw new IllegalStateException(
                    "JDBC connection to " + endpoint.jdbcUrl() + " (user " + endpoint.username() + ") failed: "
                            + e.getMessage(),
                    e);
        }
    }
}
