package io.forgequeue.testsupport;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Optional;

/**
 * Reads endpoints given by environment variables (resolution step 1). Blank values count as unset.
 * Malformed values throw {@link IllegalArgumentException} naming the variable.
 *
 * <ul>
 * <li>{@code FQ_TEST_RABBIT_ADDRESS} {@code host[:port]} (port default 5672; one address, not a list),
 * {@code FQ_TEST_RABBIT_MANAGEMENT_PORT} (default AMQP port + 10000), {@code FQ_TEST_RABBIT_USER} /
 * {@code FQ_TEST_RABBIT_PASSWORD} (default guest / guest).</li>
 * <li>{@code FQ_TEST_PG_JDBC_URL} {@code jdbc:postgresql://host[:port]/database[?...]} (port default 5432;
 * other URL parameters are not carried over), {@code FQ_TEST_PG_USER} / {@code FQ_TEST_PG_PASSWORD}
 * (default: the URL's {@code user} / {@code password} parameters, else postgres and empty).</li>
 * </ul>
 */
final class EnvironmentEndpoints {

    static final String RABBIT_ADDRESS = "FQ_TEST_RABBIT_ADDRESS";
    static final String RABBIT_MANAGEMENT_PORT = "FQ_TEST_RABBIT_MANAGEMENT_PORT";
    static final String RABBIT_USER = "FQ_TEST_RABBIT_USER";
    static final String RABBIT_PASSWORD = "FQ_TEST_RABBIT_PASSWORD";
    static final String PG_JDBC_URL = "FQ_TEST_PG_JDBC_URL";
    static final String PG_USER = "FQ_TEST_PG_USER";
    static final String PG_PASSWORD = "FQ_TEST_PG_PASSWORD";

    private static final String JDBC_PREFIX = "jdbc:postgresql://";

    private EnvironmentEndpoints() {}

    static Optional<RabbitEndpoint> rabbit(Map<String, String> env) {
        String address = value(env, RABBIT_ADDRESS);
        if (address == null) {
            return Optional.empty();
        }
        if (address.contains(",")) {
            throw new IllegalArgumentException(
                    RABBIT_ADDRESS + " must be one host:port, not a list: '" + address + "'");
        }
        HostAndPort hostAndPort = HostAndPort.parse(address, 5672, RABBIT_ADDRESS);
        String managementText = value(env, RABBIT_MANAGEMENT_PORT);
        int managementPort =
                managementText == null ? hostAndPort.port() + 10000 : port(managementText, RABBIT_MANAGEMENT_PORT);
        String user = valueOr(env, RABBIT_USER, "guest");
        String password = valueOr(env, RABBIT_PASSWORD, "guest");
        return Optional.of(
                new RabbitEndpoint(hostAndPort.host(), hostAndPort.port(), user, password, managementPort, "/"));
    }

    static Optional<PostgresEndpoint> postgres(Map<String, String> env) {
        String url = value(env, PG_JDBC_URL);
        if (url == null) {
            return Optional.empty();
        }
        if (!url.startsWith(JDBC_PREFIX)) {
            throw new IllegalArgumentException(
                    PG_JDBC_URL + " must look like jdbc:postgresql://host:port/database, got '" + url + "'");
        }
        String rest = url.substring(JDBC_PREFIX.length());
        int query = rest.indexOf('?');
        String params = query >= 0 ? rest.substring(query + 1) : "";
        String hostPortDb = query >= 0 ? rest.substring(0, query) : rest;
        int slash = hostPortDb.indexOf('/');
        String authority = slash >= 0 ? hostPortDb.substring(0, slash) : hostPortDb;
        String database = slash >= 0 ? hostPortDb.substring(slash + 1) : "";
        if (authority.isEmpty() || authority.contains(",")) {
            throw new IllegalArgumentException(PG_JDBC_URL + " must name exactly one host, got '" + url + "'");
        }
        if (database.isEmpty() || database.contains("/")) {
            throw new IllegalArgumentException(PG_JDBC_URL + " must name a database (…/database), got '" + url + "'");
        }
        HostAndPort hostAndPort = HostAndPort.parse(authority, 5432, PG_JDBC_URL);
        String user = valueOr(env, PG_USER, parameter(params, "user", "postgres"));
        String password = valueOr(env, PG_PASSWORD, parameter(params, "password", ""));
        return Optional.of(new PostgresEndpoint(
                hostAndPort.host(),
                hostAndPort.port(),
                user,
                password,
                URLDecoder.decode(database, StandardCharsets.UTF_8)));
    }

    private static String parameter(String query, String name, String fallback) {
        for (String pair : query.split("&")) {
            int eq = pair.indexOf('=');
            if (eq > 0 && pair.substring(0, eq).equals(name)) {
                return URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            }
        }
        return fallback;
    }

    private static String value(Map<String, String> env, String name) {
        String value = env.get(name);
        return value == null || value.isBlank() ? null : value.strip();
    }

    private static String valueOr(Map<String, String> env, String name, String fallback) {
        String value = env.get(name);
        return value == null || value.isEmpty() ? fallback : value;
    }

    static int port(String text, String variable) {
        try {
            int port = Integer.parseInt(text.strip());
            if (port >= 1 && port <= 65535) {
                return port;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(variable + ": '" + text + "' is not a TCP port (1-65535)");
    }

    record HostAndPort(String host, int port) {

        /** {@code host}, {@code host:port}, {@code [v6]} or {@code [v6]:port}. */
        static HostAndPort parse(String text, int defaultPort, String variable) {
            URI uri;
            try {
                uri = new URI("tcp://" + text.strip());
            } catch (URISyntaxException e) {
                throw new IllegalArgumentException(variable + ": '" + text + "' is not host:port", e);
            }
            String host = uri.getHost();
            if (host == null
                    || uri.getRawPath() != null && !uri.getRawPath().isEmpty()
                    || uri.getRawUserInfo() != null) {
                throw new IllegalArgumentException(variable + ": '" + text + "' is not host:port");
            }
            if (host.startsWith("[") && host.endsWith("]")) {
                host = host.substring(1, host.length() - 1);
            }
            if (uri.getPort() == -1) {
                if (text.strip().endsWith(":")) {
                    throw new IllegalArgumentException(variable + ": '" + text + "' is not host:port");
                }
                return new HostAndPort(host, defaultPort);
            }
            return new HostAndPort(host, EnvironmentEndpoints.port(String.valueOf(uri.getPort()), variable));
        }
    }
}
