package io.forgequeue.worker;

import io.forgequeue.testsupport.AppLogs;
import io.forgequeue.testsupport.RabbitEndpoint;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Writer;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * A gpu-worker as a separate OS process: {@code java -jar target/gpu-worker-<version>.jar} (Failsafe runs after
 * {@code package}, and passes the jar's path as {@code forgequeue.worker.jar}); without the jar (an IDE run) the
 * test classpath and the main class are used instead. Configured through the same environment variables as in
 * production. Its output is kept ({@link #output()}) and written to {@code target/test-logs/<id>.log} (registered
 * with {@link AppLogs}: a failing test shows its tail), not to the console.
 */
final class WorkerProcess implements AutoCloseable {

    private final String id;
    private final Process process;
    private final List<String> output = new CopyOnWriteArrayList<>();
    private final CompletableFuture<Void> started = new CompletableFuture<>();
    private final Thread pump;

    private WorkerProcess(String id, Process process, Path log) {
        this.id = id;
        this.process = process;
        this.pump = new Thread(
                () -> {
                    try (BufferedReader in = new BufferedReader(
                                    new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
                            Writer file = Files.newBufferedWriter(
                                    log,
                                    StandardCharsets.UTF_8,
                                    StandardOpenOption.CREATE,
                                    StandardOpenOption.APPEND)) {
                        String line;
                        while ((line = in.readLine()) != null) {
                            output.add(line);
                            file.write(line);
                            file.write('\n');
                            file.flush();
                            if (line.contains("Started GpuWorkerApplication")) {
                                started.complete(null);
                            }
                        }
                    } catch (IOException e) {
                        // process gone
                    }
                },
                "worker-output-" + id);
        pump.setDaemon(true);
        pump.start();
        process.onExit()
                .thenRun(() -> started.completeExceptionally(
                        new IllegalStateException("worker " + id + " exited with " + process.exitValue())));
    }

    /** Starts a worker; call {@link #awaitStarted} before giving it work. */
    static WorkerProcess start(String id, RabbitEndpoint rabbit, URI forgeUrl, String... extraArgs) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(List.of("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k"));
        String jar = System.getProperty("forgequeue.worker.jar");
        if (jar != null && Files.isRegularFile(Path.of(jar))) {
            command.add("-jar");
            command.add(jar);
        } else {
            command.add("-cp");
            command.add(System.getProperty("java.class.path"));
            command.add(GpuWorkerApplication.class.getName());
        }
        command.add("--server.port=0");
        command.addAll(List.of(extraArgs));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().put("SPRING_RABBITMQ_ADDRESSES", rabbit.addresses());
        pb.environment().put("SPRING_RABBITMQ_USERNAME", rabbit.username());
        pb.environment().put("SPRING_RABBITMQ_PASSWORD", rabbit.password());
        pb.environment().put("SPRING_RABBITMQ_VIRTUAL_HOST", rabbit.virtualHost());
        pb.environment().put("FORGE_URL", forgeUrl.toString());
        pb.environment().put("WORKER_ID", id);
        pb.environment().put("WORKER_POOL", "default");
        return new WorkerProcess(id, pb.start(), AppLogs.register(id, AppLogs.file(id)));
    }

    WorkerProcess awaitStarted(Duration timeout) {
        try {
            started.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            return this;
        } catch (Exception e) {
            process.destroyForcibly();
            throw new IllegalStateException(
                    "worker " + id + " did not start within " + timeout + ": " + e + "\n" + String.join("\n", output),
                    e);
        }
    }

    String id() {
        return id;
    }

    boolean isAlive() {
        return process.isAlive();
    }

    List<String> output() {
        return List.copyOf(output);
    }

    /** SIGKILL: the process dies at once, with no shutdown hook. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }

    /**
     * SIGTERM: Spring's graceful shutdown runs. Through the ProcessHandle, because {@code Process.destroy()} also
     * closes our end of the child's stdout, and the shutdown's log lines would be lost.
     */
    void terminate() {
        process.toHandle().destroy();
    }

    /** Waits for the process to exit and its output to be read; returns its exit code. */
    int awaitExit(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new AssertionError("worker " + id + " still running after " + timeout);
        }
        pump.join(5_000);
        return process.exitValue();
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
