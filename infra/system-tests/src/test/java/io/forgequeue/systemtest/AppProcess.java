package io.forgequeue.systemtest;

import io.forgequeue.testsupport.AppLogs;
import io.forgequeue.testsupport.AppReadiness;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * One of the system's apps (gateway or worker) running as a separate OS process from its packaged jar,
 * with its output in a log file under {@code target/system-test-logs/} (registered with {@link AppLogs}, so a failing
 * test shows its tail). Processes still running when the test JVM
 * exits (a test that never reached its clean-up) are killed by a shutdown hook.
 */
final class AppProcess implements AutoCloseable {

    private static final Set<Process> RUNNING = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime()
                .addShutdownHook(new Thread(
                        () -> RUNNING.forEach(p -> {
                            p.destroyForcibly();
                            ProcessHandle.of(p.pid()).ifPresent(h -> h.destroyForcibly());
                        }),
                        "app-process-reaper"));
    }

    private final String name;
    private final Path jar;
    private final Map<String, String> env;
    private final int port;
    /** The actuator's port: the gateway's management port, or {@link #port} (the worker serves only the actuator). */
    private final int managementPort;

    private final Path log;
    private volatile Process process;
    private volatile boolean frozen;

    private AppProcess(String name, Path jar, Map<String, String> env, int port, int managementPort) {
        this.name = name;
        this.jar = jar;
        this.env = Map.copyOf(env);
        this.port = port;
        this.managementPort = managementPort;
        this.log = AppLogs.register(name, SystemPaths.logDir().resolve(name + ".log"));
    }

    /** Starts the jar with the given environment and waits until its readiness probe answers UP. */
    static AppProcess start(String name, Path jar, Map<String, String> env, int port) {
        return start(name, jar, env, port, port);
    }

    /**
     * Starts an app whose actuator listens on a port of its own ({@code MANAGEMENT_SERVER_PORT}, the gateway: never
     * on its public port) and waits until its readiness probe there answers UP.
     */
    static AppProcess start(String name, Path jar, Map<String, String> env, int port, int managementPort) {
        AppProcess app = new AppProcess(name, jar, env, port, managementPort);
        app.launch();
        return app;
    }

    void launch() {
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException(
                    jar + " is missing: run ./mvnw verify from the root (it packages the apps first)");
        }
        List<String> cmd = new ArrayList<>(List.of(
                javaBinary(),
                "-Xmx384m",
                "-XX:TieredStopAtLevel=1",
                "-Djava.security.egd=file:/dev/./urandom",
                "-jar",
                jar.toString()));
        ProcessBuilder pb = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        pb.environment().putAll(env);
        pb.environment().put("SERVER_PORT", Integer.toString(port));
        if (managementPort != port) {
            pb.environment().put("MANAGEMENT_SERVER_PORT", Integer.toString(managementPort));
        }
        try {
            process = pb.start();
            RUNNING.add(process);
            Process started = process;
            started.onExit().thenRun(() -> RUNNING.remove(started));
            frozen = false;
        } catch (IOException e) {
            throw new IllegalStateException("could not start " + name, e);
        }
        awaitReady(Duration.ofSeconds(180)); // generous: the shared 2-core build machine is sometimes very busy
    }

    /**
     * Waits until {@code /actuator/health/readiness} answers 200, failing fast if the process dies (on timeout a
     * thread dump goes to the log).
     */
    void awaitReady(Duration timeout) {
        AppReadiness.await(process, name, managementUrl(), log, timeout);
    }

    String name() {
        return name;
    }

    /** The public port: REST API, web page, WebSocket (the worker's: its actuator). */
    String baseUrl() {
        return "http://127.0.0.1:" + port;
    }

    /** Where its actuator answers: health, probes, {@code /actuator/prometheus}. */
    String managementUrl() {
        return "http://127.0.0.1:" + managementPort;
    }

    long pid() {
        return process.pid();
    }

    boolean isAlive() {
        return process != null && process.isAlive();
    }

    Path log() {
        return log;
    }

    /** The environment it was started with (without SERVER_PORT and MANAGEMENT_SERVER_PORT). */
    Map<String, String> env() {
        return env;
    }

    boolean isFrozen() {
        return frozen;
    }

    /** Sends SIGKILL and returns at once (safe to call from any thread; {@link #kill()} then waits for the end). */
    void killNow() {
        Process p = process;
        if (p != null) {
            p.destroyForcibly();
        }
    }

    /** SIGKILL: the process gets no chance to clean up. */
    void kill() {
        process.destroyForcibly();
        waitFor(Duration.ofSeconds(10));
    }

    /** SIGSTOP: the process freezes (its sockets stay open). */
    void freeze() {
        signal("STOP");
        frozen = true;
    }

    /** SIGCONT: a frozen process resumes. */
    void resume() {
        signal("CONT");
        frozen = false;
    }

    /** SIGTERM, and SIGKILL if it has not ended within the grace period. */
    void stop(Duration grace) {
        if (process == null || !process.isAlive()) {
            return;
        }
        if (frozen) {
            resume(); // a stopped process would never handle SIGTERM
        }
        process.destroy();
        if (!waitFor(grace)) {
            kill();
        }
    }

    /** Starts the same app again (same port and environment) after it ended. */
    void restart() {
        if (isAlive()) {
            throw new IllegalStateException(name + " is still running");
        }
        launch();
    }

    @Override
    public void close() {
        stop(Duration.ofSeconds(20));
    }

    private boolean waitFor(Duration d) {
        try {
            return process.waitFor(d.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private void signal(String sig) {
        try {
            int rc = new ProcessBuilder("kill", "-" + sig, Long.toString(process.pid()))
                    .start()
                    .waitFor();
            if (rc != 0) {
                throw new IllegalStateException("kill -" + sig + " " + process.pid() + " failed");
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static String javaBinary() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
