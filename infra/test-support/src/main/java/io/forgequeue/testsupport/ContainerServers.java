package io.forgequeue.testsupport;

import org.testcontainers.DockerClientFactory;
import org.testcontainers.postgresql.PostgreSQLContainer;
import org.testcontainers.rabbitmq.RabbitMQContainer;
import org.testcontainers.utility.DockerImageName;

/**
 * Resolution step 2: servers in Docker containers through Testcontainers. The only class that touches
 * Testcontainers, and it is loaded only after {@link DockerEngine} found a socket or DOCKER_HOST. The
 * containers live as long as the JVM (Testcontainers' reaper removes them afterwards).
 */
final class ContainerServers {

    static final String RABBIT_IMAGE = "rabbitmq:3.13-management";
    static final String POSTGRES_IMAGE = "postgres:15";

    private ContainerServers() {}

    static boolean dockerAvailable() {
        return DockerClientFactory.instance().isDockerAvailable();
    }

    @SuppressWarnings("resource") // lives until the JVM ends
    static RabbitEndpoint startRabbit() {
        RabbitMQContainer container = new RabbitMQContainer(DockerImageName.parse(RABBIT_IMAGE));
        container.start();
        return new RabbitEndpoint(
                container.getHost(),
                container.getAmqpPort(),
                container.getAdminUsername(),
                container.getAdminPassword(),
                container.getHttpPort(),
                "/");
    }

    @SuppressWarnings("resource") // lives until the JVM ends
    static PostgresEndpoint startPostgres() {
        PostgreSQLContainer container =
                new PostgreSQLContainer(DockerImageName.parse(POSTGRES_IMAGE)).withDatabaseName("forgequeue");
        container.start();
        return new PostgresEndpoint(
                container.getHost(),
                container.getMappedPort(PostgreSQLContainer.POSTGRESQL_PORT),
                container.getUsername(),
                container.getPassword(),
                container.getDatabaseName());
    }
}
