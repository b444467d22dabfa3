package io.forgequeue.systemtest.ops;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs the scripts of infra/local/ and the functions of infra/local/lib/*.sh in bash, for the checks of the local
 * scripts. The child gets this JVM's environment without any variable the scripts read (FQ_*, FORGE_*, GATEWAY_*),
 * plus the ones a test gives.
 */
final class LocalScripts {

    /** What a finished bash run printed, and its exit code. */
    record Run(int exitCode, String stdout, String stderr) {

        List<String> lines() {
            return stdout.isBlank() ? List.of() : List.of(stdout.strip().split("\n"));
        }

        @Override
        public String toString() {
            return "exit " + exitCode + "\n--- stdout\n" + stdout + "--- stderr\n" + stderr;
        }
    }

    private LocalScripts() {}

    /** Runs {@code snippet} after sourcing lib/common.sh and lib/apps.sh (strict mode, as the scripts run). */
    static Run functions(Map<String, String> env, String snippet) {
        String prelude = "set -euo pipefail\nFQ_SERVICE=test\nsource infra/local/lib/common.sh\n"
                + "source infra/local/lib/apps.sh\n";
        return bash(env, Duration.ofSeconds(60), "-c", prelude + snippet);
    }

    /** Runs {@code infra/local/<script>} with arguments. */
    static Run script(Map<String, String> env, Duration timeout, String script, String... args) {
        List<String> command = new ArrayList<>(List.of("infra/local/" + script));
        command.addAll(List.of(args));
        return bash(env, timeout, command.toArray(String[]::new));
    }

    private static Run bash(Map<String, String> env, Duration timeout, String... args) {
        List<String> command = new ArrayList<>(List.of("bash"));
        command.addAll(List.of(args));
        try {
            Path out = Files.createTempFile("local-scripts", ".out");
            Path err = Files.createTempFile("local-scripts", ".err");
            try {
                ProcessBuilder pb = new ProcessBuilder(command)
                        .directory(OpsFiles.root().toFile())
                        .redirectOutput(out.toFile())
                        .redirectError(err.toFile())
                        .redirectInput(ProcessBuilder.Redirect.from(
                                Path.of("/dev/null").toFile()));
                pb.environment()
                        .keySet()
                        .removeIf(k -> k.startsWith("FQ_") || k.startsWith("FORGE_") || k.startsWith("GATEWAY_"));
                pb.environment().putAll(env);
                Process process = pb.start();
                if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                    process.destroyForcibly();
                    process.waitFor(10, TimeUnit.SECONDS);
                    throw new AssertionError("bash " + String.join(" ", args) + " did not finish within " + timeout
                            + "\n--- stdout\n" + Files.readString(out) + "--- stderr\n" + Files.readString(err));
                }
                return new Run(
                        process.exitValue(),
                        Files.readString(out, StandardCharsets.UTF_8),
                        Files.readString(err, StandardCharsets.UTF_8));
            } finally {
                Files.deleteIfExists(out);
                Files.deleteIfExists(err);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run bash " + String.join(" ", args), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running bash", e);
        }
    }
}
