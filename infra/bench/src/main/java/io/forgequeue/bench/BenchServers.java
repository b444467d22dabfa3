package io.forgequeue.bench;

import io.forgequeue.testsupport.PostgresEndpoint;
import io.forgequeue.testsupport.RabbitEndpoint;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The benchmark's own RabbitMQ node and PostgreSQL cluster, started with the project's scripts
 * ({@code infra/local/rabbitmq.sh}, {@code postgres.sh}) on private ports and a private run folder, so the shared
 * test servers (5702/55433) and the demo (5701/55432) are never touched. PostgreSQL runs durable (fsync on), like
 * a production database; the broker's quorum queues fsync as always.
 */
final class BenchServers implements AutoCloseable {

    private final Path root;
    private final Path runDir;
    private final int rabbitPort;
    private final int pgPort;
    private final boolean stopAtEnd;
    private final RabbitEndpoint rabbit;
    private final PostgresEndpoint postgres;

    private BenchServers(Path root, Path runDir, int rabbitPort, int pgPort, boolean stopAtEnd) {
        this.root = root;
        this.runDir = runDir;
        this.rabbitPort = rabbitPort;
        this.pgPort = pgPort;
        this.stopAtEnd = stopAtEnd;
        script("rabbitmq.sh", "start");
        script("postgres.sh", "start");
        this.rabbit = new RabbitEndpoint("127.0.0.1", rabbitPort, "guest", "guest", rabbitPort + 10000, "/");
        this.postgres = new PostgresEndpoint("127.0.0.1", pgPort, "postgres", "", "forgequeue");
    }

    static BenchServers start(Path root, Path runDir, int rabbitPort, int pgPort, boolean stopAtEnd) {
        return new BenchServers(root, runDir, rabbitPort, pgPort, stopAtEnd);
    }

    RabbitEndpoint rabbit() {
        return rabbit;
    }

    PostgresEndpoint postgres() {
        return postgres;
    }

    /** The broker's Erlang VM (beam.smp). */
    long rabbitPid() {
        return readPid(runDir.resolve("rabbitmq/fq" + rabbitPort + "/rabbit.pid"));
    }

    /** The postmaster; its backends are its children. */
    long postgresPid() {
        return readPid(runDir.resolve("postgres/pg" + pgPort + "/data/postmaster.pid"));
    }

    String describe() {
        return "RabbitMQ 127.0.0.1:" + rabbitPort + " (management " + (rabbitPort + 10000) + "), PostgreSQL 127.0.0.1:"
                + pgPort + " (durable), data under " + runDir;
    }

    /**
     * Loads pg_stat_statements into the benchmark's PostgreSQL (its own server configuration: ALTER SYSTEM, then a
     * restart) unless it is loaded already; the scale scenario reads statements per hand-out from it.
     */
    void enableStatementStatistics() {
        try (Connection c = postgres.connect();
                Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("show shared_preload_libraries")) {
            rs.next();
            if (rs.getString(1).contains("pg_stat_statements")) {
                return;
            }
            s.execute("alter system set shared_preload_libraries = 'pg_stat_statements'");
        } catch (SQLException e) {
            throw new IllegalStateException("could not configure pg_stat_statements: " + e, e);
        }
        script("postgres.sh", "stop");
        script("postgres.sh", "start");
    }

    private static long readPid(Path file) {
        try {
            List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            return Long.parseLong(lines.get(0).replaceAll("[^0-9]", ""));
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    private void script(String name, String command) {
        Path script = root.resolve("infra/local").resolve(name);
        ProcessBuilder pb = new ProcessBuilder("bash", script.toString(), command)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(
                        runDir.resolve("servers.log").toFile()));
        BenchPaths.createDirectories(runDir);
        Map<String, String> env = pb.environment();
        env.put("FQ_RUN_DIR", runDir.toString());
        env.put("FQ_RABBIT_PORT", Integer.toString(rabbitPort));
        env.put("FQ_PG_PORT", Integer.toString(pgPort));
        env.put("FQ_PG_DURABLE", "on");
        try {
            Process p = pb.start();
            if (!p.waitFor(180, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException(script + " " + command + " did not finish within 180 s");
            }
            if (p.exitValue() != 0) {
                throw new IllegalStateException(script + " " + command + " failed (exit " + p.exitValue() + "); see "
                        + runDir.resolve("servers.log"));
            }
        } catch (IOException e) {
            throw new IllegalStateException("could not run " + script, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        if (stopAtEnd) {
            script("rabbitmq.sh", "stop");
            script("postgres.sh", "stop");
        }
    }
}
