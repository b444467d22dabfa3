package io.forgequeue.testsupport;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Waiting for an app (the gateway or a worker) started as a separate process until it is ready, for the system
 * tests and the benchmarks alike.
 */
public final class AppReadiness {

    private static final HttpClient HTTP =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private AppReadiness() {}

    /**
     * Polls {@code baseUrl + /actuator/health/readiness} every 250 ms until it answers 200. Fails at once when the
     * process exits; on timeout appends a thread dump of the process to {@code log} ({@code jcmd Thread.print}) and
     * fails, naming the log.
     *
     * @param name    the app's name, for the messages
     * @param log     the file the process writes its output to
     */
    public static void await(Process process, String name, String baseUrl, Path log, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        URI uri = URI.create(baseUrl + "/actuator/health/readiness");
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException(
                        name + " exited with " + process.exitValue() + " during start; see " + log);
            }
            try {
                HttpResponse<Void> r = HTTP.send(
                        HttpRequest.newBuilder(uri)
                                .timeout(Duration.ofSeconds(2))
                                .build(),
                        HttpResponse.BodyHandlers.discarding());
                if (r.statusCode() == 200) {
                    return;
                }
            } catch (IOException e) {
                // not listening yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for " + name, e);
            }
            pause(250);
        }
        dumpThreads(process, log);
        throw new IllegalStateException(
                name + " was not ready within " + timeout + "; see " + log + " (a thread dump was appended to it)");
    }

    /** Appends a thread dump of the process to {@code log}, for a diagnosis; best effort. */
    static void dumpThreads(Process process, Path log) {
        Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
        if (!Files.isExecutable(jcmd) || !process.isAlive()) {
            return;
        }
        try {
            Process p = new ProcessBuilder(jcmd.toString(), Long.toString(process.pid()), "Thread.print")
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                    .start();
            p.waitFor(20, TimeUnit.SECONDS);
        } catch (IOException e) {
            // no dump then
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void pause(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
