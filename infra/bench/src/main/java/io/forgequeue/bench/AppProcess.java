package io.forgequeue.bench;

import io.forgequeue.testsupport.AppReadiness;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The gateway or a worker as a separate OS process started from its packaged jar (adapted from the system tests'
 * AppProcess): full JIT (no {@code TieredStopAtLevel}), fixed heap, output in a log file of the run.
 */
final class AppProcess implements AutoCloseable {

    private final String name;
    private final int port;
    /** The actuator's port: the gateway's management port, or {@link #port} (the worker serves only the actuator). */
    private final int managementPort;

    private final Path log;
    private final Process process;

    private AppProcess(String name, int port, int managementPort, Path log, Process process) {
        this.name = name;
        this.port = port;
        this.managementPort = managementPort;
        this.log = log;
        this.process = process;
    }

    /** Launches the jar; call {@link #awaitReady} before using it (several can start in parallel). */
    static AppProcess launch(
            String name, Path jar, List<String> jvmArgs, Map<String, String> env, int port, Path logDir) {
        return launch(name, jar, jvmArgs, env, port, port, logDir);
    }

    /**
     * Launches an app whose actuator listens on a port of its own ({@code MANAGEMENT_SERVER_PORT}: the gateway, whose
     * actuator is never on its public port; a build from before that answers there all the same once it is set).
     */
    static AppProcess launch(
            String name,
            Path jar,
            List<String> jvmArgs,
            Map<String, String> env,
            int port,
            int managementPort,
            Path logDir) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmArgs);
        cmd.add("-Djava.security.egd=file:/dev/./urandom");
        cmd.add("-jar");
        cmd.add(jar.toString());
        Path log = logDir.resolve(name + ".log");
        ProcessBuilder pb = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        pb.environment().putAll(env);
        pb.environment().put("SERVER_PORT", Integer.toString(port));
        if (managementPort != port) {
            pb.environment().put("MANAGEMENT_SERVER_PORT", Integer.toString(managementPort));
        }
        try {
            return new AppProcess(name, port, managementPort, log, pb.start());
        } catch (IOException e) {
            throw new IllegalStateException("could not start " + name, e);
        }
    }

    /** Waits until {@code /actuator/health/readiness} answers 200, failing fast if the process dies. */
    AppProcess awaitReady(Duration timeout) {
        AppReadiness.await(process, name, managementUrl(), log, timeout);
        return this;
    }

    String name() {
        return name;
    }

    String baseUrl() {
        return "http://127.0.0.1:" + port;
    }

    /** Where its actuator answers: health, {@code /actuator/prometheus}, {@code /actuator/metrics}. */
    String managementUrl() {
        return "http://127.0.0.1:" + managementPort;
    }

    long pid() {
        return process.pid();
    }

    boolean isAlive() {
        return process.isAlive();
    }

    Path log() {
        return log;
    }

    /** SIGKILL now (a crash), and waits until the process is gone. */
    void kill() {
        process.destroyForcibly();
        try {
            process.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** SIGTERM, then SIGKILL after {@code grace}. */
    void stop(Duration grace) {
        if (!process.isAlive()) {
            return;
        }
        process.destroy();
        try {
            if (!process.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }

    @Override
    public void close() {
        stop(Duration.ofSeconds(20));
    }
}
