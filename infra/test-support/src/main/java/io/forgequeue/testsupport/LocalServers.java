package io.forgequeue.testsupport;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * Resolution step 3: the project's own scripts, {@code infra/local/rabbitmq.sh start} and
 * {@code infra/local/postgres.sh start}, with the test ports (AMQP 5702, management 15702; PostgreSQL 55433)
 * and data under {@code <repo>/.run/test}. The scripts are idempotent and lock against each other, so every
 * test JVM of every module simply calls {@code start}: the first one starts the server (RabbitMQ ~6 s,
 * PostgreSQL ~1 s), the others find it running (~50 ms).
 *
 * <p>The servers are deliberately left running when the JVM exits, for the next module's tests. Stop them
 * with {@code FQ_RABBIT_PORT=5702 FQ_RUN_DIR=<repo>/.run/test infra/local/rabbitmq.sh stop} (and
 * {@code FQ_PG_PORT=55433 ... postgres.sh stop}), or delete them with {@code reset}.
 */
final class LocalServers {

    static final int RABBIT_PORT = 5702;
    static final int RABBIT_MANAGEMENT_PORT = RABBIT_PORT + 10000;
    static final int PG_PORT = 55433;
    static final String PG_DATABASE = "forgequeue";
    static final String ROOT_PROPERTY = "forgequeue.root";
    private static final long SCRIPT_TIMEOUT_SECONDS = 420;
    private static final int OUTPUT_TAIL_LINES = 25;

    private LocalServers() {}

    static RabbitEndpoint startRabbit(Path root) {
        runScript(root, "rabbitmq.sh", Map.of("FQ_RABBIT_PORT", String.valueOf(RABBIT_PORT)));
        return new RabbitEndpoint("127.0.0.1", RABBIT_PORT, "guest", "guest", RABBIT_MANAGEMENT_PORT, "/");
    }

    static PostgresEndpoint startPostgres(Path root) {
        runScript(
                root,
                "postgres.sh",
                Map.of("FQ_PG_PORT", String.valueOf(PG_PORT), "FQ_PG_DB", PG_DATABASE, "FQ_PG_DURABLE", "off"));
        return new PostgresEndpoint("127.0.0.1", PG_PORT, "postgres", "", PG_DATABASE);
    }

    static Path runDir(Path root) {
        return root.resolve(".run").resolve("test");
    }

    /** The shell command a person runs to do what {@link #startRabbit} does. */
    static String rabbitCommand(Path root) {
        return "FQ_RABBIT_PORT=" + RABBIT_PORT + " FQ_RUN_DIR=" + runDir(root) + " " + script(root, "rabbitmq.sh")
                + " start";
    }

    static String postgresCommand(Path root) {
        return "FQ_PG_PORT=" + PG_PORT + " FQ_RUN_DIR=" + runDir(root) + " " + script(root, "postgres.sh") + " start";
    }

    /**
     * The repository root: system property {@code forgequeue.root} (set by the root pom for Failsafe) if it
     * holds {@code infra/local}, else the nearest folder above {@code user.dir} that does.
     *
     * @throws IllegalStateException when neither is found
     */
    static Path findRoot() {
        String property = System.getProperty(ROOT_PROPERTY);
        if (property != null && !property.isBlank() && hasScripts(Path.of(property))) {
            return Path.of(property).toAbsolutePath().normalize();
        }
        for (Path dir = Path.of(System.getProperty("user.dir")).toAbsolutePath(); dir != null; dir = dir.getParent()) {
            if (hasScripts(dir)) {
                return dir.normalize();
            }
        }
        throw new IllegalStateException("the repository root (the folder with infra/local/rabbitmq.sh) was found "
                + "neither in system property " + ROOT_PROPERTY + " (" + property + ") nor above user.dir ("
                + System.getProperty("user.dir") + ")");
    }

    private static boolean hasScripts(Path dir) {
        return Files.isRegularFile(dir.resolve("infra/local/rabbitmq.sh"))
                && Files.isRegularFile(dir.resolve("infra/local/postgres.sh"));
    }

    private static Path script(Path root, String name) {
        return root.resolve("infra").resolve("local").resolve(name);
    }

    private static void runScript(Path root, String name, Map<String, String> env) {
        Map<String, String> withRunDir = new LinkedHashMap<>(env);
        withRunDir.put("FQ_RUN_DIR", runDir(root).toString());
        runScript(root, name, List.of("start"), withRunDir);
    }

    /** Runs {@code infra/local/<name> <args>} with {@code env} added; fails with the tail of its output. */
    static void runScript(Path root, String name, List<String> args, Map<String, String> env) {
        Path script = script(root, name);
        String command =
                env.entrySet().stream()
                                .map(e -> e.getKey() + "=" + e.getValue())
                                .collect(Collectors.joining(" ")) + " " + script + " " + String.join(" ", args);
        File output = null;
        try {
            // Output goes to a file, not a pipe: a server started by the script must never hold our pipe open.
            output = File.createTempFile("fq-" + name.replace(".sh", "") + "-start-", ".log");
            List<String> commandLine = new ArrayList<>(List.of("bash", script.toString()));
            commandLine.addAll(args);
            ProcessBuilder builder = new ProcessBuilder(commandLine)
                    .directory(root.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(output)
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            builder.environment().putAll(env);
            Process process = builder.start();
            if (!process.waitFor(SCRIPT_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                process.destroy();
                throw new IllegalStateException("`" + command + "` did not finish within " + SCRIPT_TIMEOUT_SECONDS
                        + " s; its output:\n" + tail(output));
            }
            if (process.exitValue() != 0) {
                throw new IllegalStateException("`" + command + "` failed with exit code " + process.exitValue()
                        + "; its output:\n" + tail(output));
            }
        } catch (IOException e) {
            throw new IllegalStateException("could not run `" + command + "`: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running `" + command + "`", e);
        } finally {
            if (output != null) {
                output.delete();
            }
        }
    }

    private static String tail(File output) {
        try {
            List<String> lines = Arrays.asList(
                    Files.readString(output.toPath(), StandardCharsets.UTF_8).split("\n"));
            return lines.subList(Math.max(0, lines.size() - OUTPUT_TAIL_LINES), lines.size()).stream()
                    .map(line -> "      | " + line)
                    .collect(Collectors.joining("\n"));
        } catch (IOException e) {
            return "      (output unreadable: " + e.getMessage() + ")";
        }
    }
}
