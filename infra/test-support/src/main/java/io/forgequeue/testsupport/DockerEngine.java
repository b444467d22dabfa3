package io.forgequeue.testsupport;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Whether a Docker engine answers, decided once per JVM and quickly: without {@code DOCKER_HOST} or a
 * Docker socket file Testcontainers is not even loaded; otherwise its own check runs with a time limit.
 */
final class DockerEngine {

    private static final long CHECK_TIMEOUT_SECONDS = 20;
    private static volatile String unavailableReason;
    private static volatile boolean checked;

    private DockerEngine() {}

    /** Empty when an engine answers, otherwise why not. */
    static synchronized Optional<String> unavailableReason() {
        if (!checked) {
            unavailableReason = check();
            checked = true;
        }
        return Optional.ofNullable(unavailableReason);
    }

    private static String check() {
        String dockerHost = System.getenv("DOCKER_HOST");
        List<Path> sockets = new ArrayList<>(List.of(Path.of("/var/run/docker.sock")));
        String runtimeDir = System.getenv("XDG_RUNTIME_DIR");
        if (runtimeDir != null && !runtimeDir.isBlank()) {
            sockets.add(Path.of(runtimeDir, "docker.sock"));
        }
        sockets.add(Path.of(System.getProperty("user.home"), ".docker", "run", "docker.sock"));
        boolean socketExists = sockets.stream().anyMatch(Files::exists);
        if ((dockerHost == null || dockerHost.isBlank()) && !socketExists) {
            return "no Docker engine (DOCKER_HOST is not set and there is no " + sockets.get(0) + ")";
        }
        FutureTask<Boolean> probe = new FutureTask<>(ContainerServers::dockerAvailable);
        Thread thread = new Thread(probe, "fq-docker-check");
        thread.setDaemon(true);
        thread.start();
        try {
            return probe.get(CHECK_TIMEOUT_SECONDS, TimeUnit.SECONDS)
                    ? null
                    : "Docker is configured (DOCKER_HOST or a socket file) but the engine does not answer";
        } catch (TimeoutException e) {
            probe.cancel(true);
            return "the Docker engine did not answer within " + CHECK_TIMEOUT_SECONDS + " s";
        } catch (ExecutionException | LinkageError e) {
            return "the Docker check failed: " + (e.getCause() != null ? e.getCause() : e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted while checking for Docker";
        }
    }
}
