package io.forgequeue.testsupport;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;

/**
 * A PostgreSQL server and one database on it. Immutable and thread-safe.
 *
 * @param host     server host name or address; never blank
 * @param port     TCP port
 * @param username user name; never null
 * @param password password; never null (empty for trust authentication)
 * @param database database name; never blank
 */
public record PostgresEndpoint(String host, int port, String username, String password, String database) {

    private static final String OBJECT_IN_USE = "55006";

    public PostgresEndpoint {
        RabbitEndpoint.requireText(host, "host");
        RabbitEndpoint.requirePort(port, "port");
        Objects.requireNonNull(username, "username");
        Objects.requireNonNull(password, "password");
        RabbitEndpoint.requireText(database, "database");
    }

    /** {@code jdbc:postgresql://host:port/database}. */
    public String jdbcUrl() {
        return "jdbc:postgresql://" + (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port + "/" + database;
    }

    /**
     * The environment that points the gateway (run as a process) at this database: {@code SPRING_DATASOURCE_URL},
     * {@code _USERNAME}, {@code _PASSWORD}. A new mutable map.
     */
    public Map<String, String> appEnvironment() {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("SPRING_DATASOURCE_URL", jdbcUrl());
        env.put("SPRING_DATASOURCE_USERNAME", username);
        env.put("SPRING_DATASOURCE_PASSWORD", password);
        return env;
    }

    /**
     * Runs {@code CREATE DATABASE <prefix>_fq<pid>_<random>} and returns the endpoint for the new, empty
     * database. Databases made by test JVMs that have ended are dropped by a later test JVM on the
     * harness-started local server.
     *
     * @param prefix readable start of the name, e.g. the test class; lower-cased, characters other than
     *               letters, digits and {@code _} become {@code _}
     */
    public PostgresEndpoint withFreshDatabase(String prefix) {
        String name = FreshNames.database(prefix);
        try (Connection connection = connect();
                Statement statement = connection.createStatement()) {
            for (int attempt = 1; ; attempt++) {
                try {
                    statement.execute("CREATE DATABASE \"" + name + "\"");
                    break;
                } catch (SQLException e) {
                    // "source database template1 is being accessed by other users": another CREATE DATABASE
                    // (another test JVM) copies the template right now.
                    if (!OBJECT_IN_USE.equals(e.getSQLState()) || attempt == 20) {
                        throw e;
                    }
                    Thread.sleep(100L * attempt);
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException(
                    "could not create database " + name + " on " + jdbcUrl() + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating database " + name, e);
        }
        return new PostgresEndpoint(host, port, username, password, name);
    }

    /** Opens a new JDBC connection to this database (the caller closes it). */
    public Connection connect() throws SQLException {
        Properties properties = new Properties();
        properties.setProperty("user", username);
        properties.setProperty("password", password);
        properties.setProperty("connectTimeout", "10");
        properties.setProperty("loginTimeout", "15");
        return DriverManager.getConnection(jdbcUrl(), properties);
    }

    @Override
    public String toString() {
        return "PostgresEndpoint[" + username + "@" + jdbcUrl() + "]";
    }
}
