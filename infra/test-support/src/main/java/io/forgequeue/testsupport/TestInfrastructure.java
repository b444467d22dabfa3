package io.forgequeue.testsupport;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real RabbitMQ broker and a real PostgreSQL server for integration tests. Each is located or started
 * once per JVM, on first use, and proven usable (connection opened) before it is returned. Thread-safe.
 *
 * <p>Resolution order, the first that applies wins:
 * <ol>
 * <li><b>Environment variables</b>: {@code FQ_TEST_RABBIT_ADDRESS} (host:port),
 * {@code FQ_TEST_RABBIT_MANAGEMENT_PORT} (default port + 10000), {@code FQ_TEST_RABBIT_USER} /
 * {@code FQ_TEST_RABBIT_PASSWORD} (default guest/guest); {@code FQ_TEST_PG_JDBC_URL},
 * {@code FQ_TEST_PG_USER} / {@code FQ_TEST_PG_PASSWORD} (default postgres / empty). When set, that server
 * must work: there is no fallback.</li>
 * <li><b>Testcontainers</b> ({@code rabbitmq:3.13-management}, {@code postgres:15}) when a Docker engine
 * answers. Checked quickly: without {@code DOCKER_HOST} or a Docker socket file Testcontainers is not
 * touched. The containers end with the JVM.</li>
 * <li><b>The local scripts</b> {@code infra/local/rabbitmq.sh start} / {@code infra/local/postgres.sh start}
 * with {@code FQ_RABBIT_PORT=5702}, {@code FQ_PG_PORT=55433} and {@code FQ_RUN_DIR=<repo>/.run/test}. The
 * repository root is system property {@code forgequeue.root} (the root pom sets it for Failsafe), else the
 * nearest folder above {@code user.dir} holding {@code infra/local}. <b>These servers stay running after
 * the JVM exits</b>, so the next module's test JVM reuses them in ~50 ms instead of waiting ~6 s for a
 * broker; the scripts are idempotent and serialise concurrent starts. Stop them with the same command
 * and {@code stop} (or {@code reset} to also delete their data).</li>
 * </ol>
 * {@code FQ_TEST_INFRA=local} (or system property {@code forgequeue.test.infra}) skips step 2,
 * {@code FQ_TEST_INFRA=docker} skips step 3.
 *
 * <p>When nothing works, {@link InfrastructureUnavailableException} says what was tried and how to get a
 * server; the test fails (it never skips). A failure is remembered, so later tests in the same JVM fail
 * at once with the same message.
 *
 * <p>Tests isolate themselves with {@link RabbitEndpoint#withFreshVirtualHost(String)} and
 * {@link PostgresEndpoint#withFreshDatabase(String)}. On the local servers, virtual hosts and databases
 * of test JVMs that have ended are removed in the background by the next test JVM.
 */
public final class TestInfrastructure {

    private static final Logger log = LoggerFactory.getLogger(TestInfrastructure.class);

    static final String MODE_VARIABLE = "FQ_TEST_INFRA";
    static final String MODE_PROPERTY = "forgequeue.test.infra";

    private static final Once<RabbitEndpoint> RABBIT = new Once<>();
    private static final Once<PostgresEndpoint> POSTGRES = new Once<>();

    private TestInfrastructure() {}

    /**
     * The RabbitMQ broker for this JVM's tests (default virtual host {@code /}).
     *
     * @throws InfrastructureUnavailableException when no broker could be found or started
     */
    public static RabbitEndpoint rabbit() {
        return RABBIT.get(() -> resolve(new Recipe<RabbitEndpoint>(
                "RabbitMQ broker",
                EnvironmentEndpoints.RABBIT_ADDRESS,
                () -> EnvironmentEndpoints.rabbit(System.getenv()),
                ContainerServers::startRabbit,
                LocalServers::startRabbit,
                LocalServers::rabbitCommand,
                Probes::rabbit,
                StaleResourceSweeper::sweepInBackground,
                "export " + EnvironmentEndpoints.RABBIT_ADDRESS + "=host:5672 "
                        + EnvironmentEndpoints.RABBIT_MANAGEMENT_PORT + "=15672 "
                        + EnvironmentEndpoints.RABBIT_USER + "=guest " + EnvironmentEndpoints.RABBIT_PASSWORD
                        + "=guest   (the management plugin must be enabled: tests create virtual hosts)")));
    }

    /**
     * The PostgreSQL server for this JVM's tests, with its base database ({@code forgequeue} locally).
     *
     * @throws InfrastructureUnavailableException when no server could be found or started
     */
    public static PostgresEndpoint postgres() {
        return POSTGRES.get(() -> resolve(new Recipe<PostgresEndpoint>(
                "PostgreSQL server",
                EnvironmentEndpoints.PG_JDBC_URL,
                () -> EnvironmentEndpoints.postgres(System.getenv()),
                ContainerServers::startPostgres,
                LocalServers::startPostgres,
                LocalServers::postgresCommand,
                Probes::postgres,
                StaleResourceSweeper::sweepInBackground,
                "export " + EnvironmentEndpoints.PG_JDBC_URL + "=jdbc:postgresql://host:5432/database "
                        + EnvironmentEndpoints.PG_USER + "=postgres " + EnvironmentEndpoints.PG_PASSWORD
                        + "=secret   (the user must be allowed to CREATE DATABASE)")));
    }

    /**
     * The repository root: system property {@code forgequeue.root} (set by the root pom for Failsafe) if it holds
     * {@code infra/local}, else the nearest folder above {@code user.dir} that does. For tests and the benchmark
     * that start the packaged apps or read the project's files.
     *
     * @throws IllegalStateException when neither is found
     */
    public static Path repositoryRoot() {
        return LocalServers.findRoot();
    }

    /**
     * Spring Boot properties for the given endpoints, for {@code @DynamicPropertySource}:
     * {@code spring.rabbitmq.addresses/username/password/virtual-host} and
     * {@code spring.datasource.url/username/password}. Either argument may be null; its properties are then
     * left out.
     */
    public static Map<String, String> springProperties(RabbitEndpoint rabbit, PostgresEndpoint postgres) {
        Map<String, String> properties = new LinkedHashMap<>();
        if (rabbit != null) {
            properties.put("spring.rabbitmq.addresses", rabbit.addresses());
            properties.put("spring.rabbitmq.username", rabbit.username());
            properties.put("spring.rabbitmq.password", rabbit.password());
            properties.put("spring.rabbitmq.virtual-host", rabbit.virtualHost());
        }
        if (postgres != null) {
            properties.put("spring.datasource.url", postgres.jdbcUrl());
            properties.put("spring.datasource.username", postgres.username());
            properties.put("spring.datasource.password", postgres.password());
        }
        return Collections.unmodifiableMap(properties);
    }

    private static <T> T resolve(Recipe<T> recipe) {
        Optional<T> fromEnvironment;
        try {
            fromEnvironment = recipe.environment().get();
        } catch (IllegalArgumentException e) {
            throw new InfrastructureUnavailableException(
                    "No " + recipe.server() + " for the integration tests: " + e.getMessage());
        }
        if (fromEnvironment.isPresent()) {
            T endpoint = fromEnvironment.get();
            try {
                recipe.probe().accept(endpoint);
            } catch (RuntimeException e) {
                throw new InfrastructureUnavailableException(
                        "The " + recipe.server() + " given by environment "
                                + "variables (" + endpoint + ") is not usable: " + e.getMessage()
                                + "\nFix it, or unset "
                                + recipe.environmentVariable() + " to let the test harness start a local one.",
                        e);
            }
            log.info("Integration tests use the {} from environment variables: {}", recipe.server(), endpoint);
            return endpoint;
        }

        List<String> tried = new ArrayList<>();
        tried.add("environment: " + recipe.environmentVariable() + " is not set");
        Mode mode = mode();
        if (mode == Mode.LOCAL) {
            tried.add("Testcontainers: skipped (" + MODE_VARIABLE + "=local)");
        } else {
            Optional<String> dockerMissing = DockerEngine.unavailableReason();
            if (dockerMissing.isPresent()) {
                tried.add("Testcontainers: " + dockerMissing.get());
            } else {
                try {
                    T endpoint = recipe.container().get();
                    recipe.probe().accept(endpoint);
                    log.info("Integration tests use a {} in a Docker container: {}", recipe.server(), endpoint);
                    return endpoint;
                } catch (RuntimeException | LinkageError e) {
                    tried.add("Testcontainers: " + e);
                }
            }
        }

        Path root = null;
        if (mode == Mode.DOCKER) {
            tried.add("local server: skipped (" + MODE_VARIABLE + "=docker)");
        } else {
            try {
                root = LocalServers.findRoot();
                T endpoint = recipe.local().apply(root);
                recipe.probe().accept(endpoint);
                recipe.afterLocalStart().accept(endpoint);
                log.info(
                        "Integration tests use the local {} {}; it keeps running after the tests (stop: {})",
                        recipe.server(),
                        endpoint,
                        recipe.localCommand().apply(root).replaceFirst(" start$", " stop"));
                return endpoint;
            } catch (RuntimeException e) {
                tried.add("local server: " + e.getMessage());
            }
        }
        throw new InfrastructureUnavailableException(unavailableMessage(recipe, tried, root));
    }

    private static String unavailableMessage(Recipe<?> recipe, List<String> tried, Path root) {
        StringBuilder message = new StringBuilder("No ")
                .append(recipe.server())
                .append(" for the integration tests. Tried, in order:\n");
        for (int i = 0; i < tried.size(); i++) {
            message.append("  ").append(i + 1).append(". ").append(tried.get(i)).append('\n');
        }
        Path shownRoot = root;
        if (shownRoot == null) {
            try {
                shownRoot = LocalServers.findRoot();
            } catch (IllegalStateException e) {
                shownRoot = Path.of("<repository root>");
            }
        }
        message.append("To get one, do one of these and re-run the tests:\n")
                .append(
                        "  - start the local test server (as root on Debian/Ubuntu; installs the package if missing):\n")
                .append("      ")
                .append(recipe.localCommand().apply(shownRoot))
                .append('\n')
                .append("  - or point the tests at a running server:\n")
                .append("      ")
                .append(recipe.environmentHint())
                .append('\n')
                .append("  - or run them where a Docker engine answers (Testcontainers).");
        return message.toString();
    }

    private static Mode mode() {
        String value = System.getProperty(MODE_PROPERTY, System.getenv(MODE_VARIABLE));
        if (value == null || value.isBlank()) {
            return Mode.AUTO;
        }
        try {
            return Mode.valueOf(value.strip().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new InfrastructureUnavailableException(
                    MODE_VARIABLE + " / " + MODE_PROPERTY + " must be auto, docker or local, got '" + value + "'");
        }
    }

    private enum Mode {
        AUTO,
        DOCKER,
        LOCAL
    }

    /** How to find one kind of server. */
    private record Recipe<T>(
            String server,
            String environmentVariable,
            Supplier<Optional<T>> environment,
            Supplier<T> container,
            Function<Path, T> local,
            Function<Path, String> localCommand,
            Consumer<T> probe,
            Consumer<T> afterLocalStart,
            String environmentHint) {}

    /** A value computed once; a failure is remembered and rethrown. */
    private static final class Once<T> {

        private T value;
        private InfrastructureUnavailableException failure;

        synchronized T get(Supplier<T> supplier) {
            if (value != null) {
                return value;
            }
            if (failure != null) {
                throw new InfrastructureUnavailableException(failure.getMessage(), failure);
            }
            try {
                value = supplier.get();
                return value;
            } catch (InfrastructureUnavailableException e) {
                failure = e;
                throw e;
            }
        }
    }
}
