package io.forgequeue.systemtest;

import io.forgequeue.testsupport.PostgresEndpoint;
import io.forgequeue.testsupport.RabbitEndpoint;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A RabbitMQ node or a PostgreSQL cluster of this suite's own, run with the project's scripts
 * ({@code infra/local/rabbitmq.sh} / {@code postgres.sh}) on a private port with its data under
 * {@code <repo>/.run/faults}, so that a test may stop, kill and restart it without touching the shared test servers
 * (5702 / 55433) that other test JVMs use. Not thread-safe: one test drives it.
 */
final class PrivateServer implements AutoCloseable {

    /** RabbitMQ AMQP port of the fault suite (management +10000). */
    static final int RABBIT_PORT = 5703;
    /** PostgreSQL port of the fault suite. */
    static final int PG_PORT = 55434;

    private static final long SCRIPT_TIMEOUT_SECONDS = 180;

    private enum Kind {
        RABBIT,
        POSTGRES
    }

    private final Kind kind;
    private final int port;
    private boolean started;

    private PrivateServer(Kind kind, int port) {
        this.kind = kind;
        this.port = port;
    }

    static PrivateServer rabbit(int port) {
        return new PrivateServer(Kind.RABBIT, port);
    }

    static PrivateServer postgres(int port) {
        return new PrivateServer(Kind.POSTGRES, port);
    }

    /**
     * {@code preferred} when it (and for RabbitMQ the ports derived from it: management +10000, prometheus +11000,
     * distribution +20000) is free on loopback, else the next free one in steps of 2. Another run on the same machine
     * (a second checkout's tests, a server an aborted run left behind) then costs a different port instead of a
     * failed suite: a CI run failed with "postgres.sh start (port 55434) failed" while another checkout's server held
     * the port.
     */
    static int freePort(boolean rabbit, int preferred) {
        for (int port = preferred; port < preferred + 40; port += 2) {
            if (rabbit ? free(port) && free(port + 10000) && free(port + 11000) && free(port + 20000) : free(port)) {
                return port;
            }
        }
        throw new IllegalStateException("no free port from " + preferred + " to " + (preferred + 38));
    }

    private static boolean free(int port) {
        try (java.net.ServerSocket socket = new java.net.ServerSocket()) {
            socket.bind(new java.net.InetSocketAddress("127.0.0.1", port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** {@code <repo>/.run/faults}. */
    static Path runDir() {
        return SystemPaths.root().resolve(".run").resolve("faults");
    }

    /** The broker's default virtual host (guest/guest, management API on port + 10000). */
    RabbitEndpoint rabbitEndpoint() {
        require(Kind.RABBIT);
        return new RabbitEndpoint("127.0.0.1", port, "guest", "guest", port + 10000, "/");
    }

    /** The cluster's base database {@code forgequeue} (user postgres, trust). */
    PostgresEndpoint postgresEndpoint() {
        require(Kind.POSTGRES);
        return new PostgresEndpoint("127.0.0.1", port, "postgres", "", "forgequeue");
    }

    /** Deletes whatever an earlier run left (stopping it first), then starts afresh. */
    void startFresh() {
        script("reset");
        start();
    }

    /** Starts the server and waits until it answers (the script is idempotent). */
    void start() {
        script("start");
        started = true;
    }

    /** A clean stop: {@code rabbitmqctl stop} / {@code pg_ctl -m fast stop}. */
    void stop() {
        script("stop");
    }

    /** SIGKILL of the server process (beam.smp / the postmaster): a crash, no clean shutdown. */
    void kill() {
        long pid = pid();
        try {
            Process p = new ProcessBuilder("kill", "-KILL", Long.toString(pid))
                    .redirectErrorStream(true)
                    .start();
            if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IllegalStateException("kill -KILL " + pid + " failed");
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false) && System.nanoTime() < deadline) {
            AppProcess.sleep(50);
        }
    }

    /** The server's main process id, from its pid file. */
    long pid() {
        Path file = kind == Kind.RABBIT
                ? runDir().resolve("rabbitmq").resolve("fq" + port).resolve("rabbit.pid")
                : runDir().resolve("postgres")
                        .resolve("pg" + port)
                        .resolve("data")
                        .resolve("postmaster.pid");
        try {
            List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            return Long.parseLong(lines.get(0).replaceAll("[^0-9]", ""));
        } catch (IOException | RuntimeException e) {
            throw new IllegalStateException("no pid file " + file + " (is the server running?)", e);
        }
    }

    /** Ends the server: SIGKILL for RabbitMQ (its data is deleted by the next {@link #startFresh()}), a fast stop for PostgreSQL. */
    @Override
    public void close() {
        if (!started) {
            return;
        }
        if (kind == Kind.RABBIT) {
            try {
                kill();
            } catch (IllegalStateException e) {
                // not running
            }
        } else {
            stop();
        }
    }

    private void require(Kind expected) {
        if (kind != expected) {
            throw new IllegalStateException("this is a " + kind + " server");
        }
    }

    private void script(String command) {
        Path root = SystemPaths.root();
        String name = kind == Kind.RABBIT ? "rabbitmq.sh" : "postgres.sh";
        Path script = root.resolve("infra").resolve("local").resolve(name);
        File output = SystemPaths.logDir()
                .resolve("private-" + (kind == Kind.RABBIT ? "rabbitmq" : "postgres") + "-" + port + ".log")
                .toFile();
        try {
            ProcessBuilder builder = new ProcessBuilder("bash", script.toString(), command)
                    .directory(root.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(output))
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            builder.environment().put("FQ_RUN_DIR", runDir().toString());
            if (kind == Kind.RABBIT) {
                builder.environment().put("FQ_RABBIT_PORT", Integer.toString(port));
            } else {
                builder.environment().put("FQ_PG_PORT", Integer.toString(port));
                builder.environment().put("FQ_PG_DURABLE", "off");
            }
            Process process = builder.start();
            if (!process.waitFor(SCRIPT_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                process.destroy();
                throw new IllegalStateException(name + " " + command + " did not finish within "
                        + SCRIPT_TIMEOUT_SECONDS + " s; see " + output);
            }
            if (process.exitValue() != 0) {
                throw new IllegalStateException(name + " " + command + " (port " + port + ") failed with exit code "
                        + process.exitValue() + "; see " + output);
            }
        } catch (IOException e) {
            throw new IllegalStateException("could not run " + script + " " + command, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
