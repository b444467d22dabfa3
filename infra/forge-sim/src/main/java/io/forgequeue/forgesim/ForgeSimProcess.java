package io.forgequeue.forgesim;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Writer;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * forge-sim as a separate OS process, for tests in other modules: {@code java -cp <forge-sim jar or this classpath>
 * io.forgequeue.forgesim.ForgeSimMain --port 0 ...}. {@link #start} returns once the sim printed its listening line,
 * so {@link #baseUrl()} and {@link #adminUrl()} are ready to use. {@link #kill()} is a crash (SIGKILL),
 * {@link #close()} a graceful stop (SIGTERM, then SIGKILL after 10 s). The child's output is kept (last 500 lines,
 * {@link #recentOutput()}), appended to a log file if one is given ({@link Builder#logTo}), and echoed to this
 * process's stderr with a {@code [forge-sim]} prefix unless disabled.
 *
 * <pre>{@code
 * try (ForgeSimProcess sim = ForgeSimProcess.start("--step-ms", "0", "--model-load-ms", "0")) {
 *     URI forge = sim.baseUrl();                 // give it to the worker as FORGE_URL
 *     sim.admin().failNextWithOutOfMemory(1);    // inject faults
 *     ForgeSimAdmin.Stats stats = sim.admin().stats();
 * }
 * }</pre>
 */
public final class ForgeSimProcess implements AutoCloseable {

    private static final Pattern LISTENING =
            Pattern.compile(Pattern.quote(ForgeSimMain.LISTENING_PREFIX) + "api=(\\d+) admin=(\\d+)");

    private static final int KEPT_LINES = 500;

    private final Process process;

    private final int apiPort;

    private final int adminPort;

    private final ForgeSimAdmin admin;

    private final Deque<String> output;

    private final boolean tls;

    private ForgeSimProcess(Process process, int apiPort, int adminPort, Deque<String> output, boolean tls) {
        this.tls = tls;
        this.process = process;
        this.apiPort = apiPort;
        this.adminPort = adminPort;
        this.output = output;
        this.admin = new ForgeSimAdmin(adminUrl());
    }

    /** Starts a sim on free ports with these extra options (see {@link SimConfig#usage()}). */
    public static ForgeSimProcess start(String... args) throws IOException {
        return builder().args(args).start();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Options for the child process. */
    public static final class Builder {

        private final List<String> args = new ArrayList<>();

        private final List<String> jvmArgs = new ArrayList<>(List.of("-XX:+UseSerialGC", "-Xmx512m", "-Xss512k"));

        private final Map<String, String> env = new LinkedHashMap<>();

        private Duration startupTimeout = Duration.ofSeconds(30);

        private boolean echoOutput = true;

        private Path logFile;

        private String classpath;

        private Builder() {}

        /** forge-sim options, e.g. {@code "--step-ms", "0"}. {@code --port 0} is added unless a port is given. */
        public Builder args(String... more) {
            args.addAll(Arrays.asList(more));
            return this;
        }

        /** Replaces the default JVM options ({@code -XX:+UseSerialGC -Xmx512m -Xss512k}). */
        public Builder jvmArgs(String... options) {
            jvmArgs.clear();
            jvmArgs.addAll(Arrays.asList(options));
            return this;
        }

        /** An environment variable for the child (FORGE_SIM_* variables of this process are not inherited). */
        public Builder env(String name, String value) {
            env.put(name, value);
            return this;
        }

        public Builder startupTimeout(Duration timeout) {
            startupTimeout = timeout;
            return this;
        }

        /** Whether the child's output is echoed to this process's stderr (default true). */
        public Builder echoOutput(boolean echo) {
            echoOutput = echo;
            return this;
        }

        /** Appends the child's output (stdout and stderr) to this file, e.g. to keep it off the console. */
        public Builder logTo(Path file) {
            logFile = file;
            return this;
        }

        /** Overrides the classpath of the child (default: the forge-sim jar, or this JVM's classpath). */
        public Builder classpath(String cp) {
            classpath = cp;
            return this;
        }

        public ForgeSimProcess start() throws IOException {
            List<String> command = new ArrayList<>();
            command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            command.addAll(jvmArgs);
            command.add("-cp");
            command.add(classpath != null ? classpath : defaultClasspath());
            command.add(ForgeSimMain.class.getName());
            if (args.stream().noneMatch(a -> a.equals("--port") || a.startsWith("--port="))) {
                command.add("--port");
                command.add("0");
            }
            command.addAll(args);
            ProcessBuilder pb = new ProcessBuilder(command);
            pb.environment().keySet().removeIf(k -> k.startsWith("FORGE_SIM_"));
            pb.environment().putAll(env);
            Process process = pb.start();
            Deque<String> output = new ArrayDeque<>();
            CompletableFuture<int[]> ports = new CompletableFuture<>();
            String tag = "[forge-sim " + process.pid() + "] ";
            Writer log = logFile == null
                    ? null
                    : Files.newBufferedWriter(
                            logFile, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            Sink sink = new Sink(output, echoOutput ? tag : null, log);
            pump(process.getInputStream(), sink, ports, "forge-sim-stdout-" + process.pid());
            pump(process.getErrorStream(), sink, null, "forge-sim-stderr-" + process.pid());
            process.onExit()
                    .thenRun(() -> ports.completeExceptionally(new IllegalStateException(
                            "forge-sim exited with code " + process.exitValue() + " before listening")));
            try {
                int[] p = ports.get(startupTimeout.toMillis(), TimeUnit.MILLISECONDS);
                boolean tls = env.containsKey("FORGE_SIM_TLS_CERT")
                        || args.stream().anyMatch(a -> a.equals("--tls-cert") || a.startsWith("--tls-cert="));
                return new ForgeSimProcess(process, p[0], p[1], output, tls);
            } catch (ExecutionException | TimeoutException e) {
                process.destroyForcibly();
                throw new IOException(
                        "forge-sim did not start (" + e.getMessage() + "); command " + command + "; output:\n"
                                + String.join("\n", snapshot(output)),
                        e);
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while starting forge-sim", e);
            }
        }
    }

    /** The Forge API: {@code http}, or {@code https} for a sim started with {@code --tls-cert}. */
    public URI baseUrl() {
        return URI.create((tls ? "https" : "http") + "://127.0.0.1:" + apiPort);
    }

    public URI adminUrl() {
        return URI.create("http://127.0.0.1:" + adminPort);
    }

    public int apiPort() {
        return apiPort;
    }

    public int adminPort() {
        return adminPort;
    }

    public long pid() {
        return process.pid();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** A client for this sim's admin API. */
    public ForgeSimAdmin admin() {
        return admin;
    }

    /** The child's last output lines (stdout and stderr interleaved). */
    public List<String> recentOutput() {
        return snapshot(output);
    }

    /** Kills the process at once (SIGKILL), like a crash, and waits for it to be gone. */
    public void kill() {
        process.destroyForcibly();
        waitFor(Duration.ofSeconds(10));
    }

    /** Stops the process gracefully (SIGTERM), killing it if it has not exited after 10 seconds. */
    @Override
    public void close() {
        if (!process.isAlive()) {
            return;
        }
        process.destroy();
        if (!waitFor(Duration.ofSeconds(10))) {
            kill();
        }
    }

    private boolean waitFor(Duration timeout) {
        try {
            return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return !process.isAlive();
        }
    }

    /**
     * The forge-sim jar when this class was loaded from one (a self-contained shaded jar), otherwise this JVM's
     * classpath (tests of the forge-sim module itself, or a reactor build using target/classes).
     */
    static String defaultClasspath() {
        try {
            var source = ForgeSimProcess.class.getProtectionDomain().getCodeSource();
            if (source != null) {
                Path location = Path.of(source.getLocation().toURI());
                if (Files.isRegularFile(location)
                        && location.toString().endsWith(".jar")
                        && isSelfContained(location)) {
                    return location.toString();
                }
            }
        } catch (URISyntaxException | IllegalArgumentException | SecurityException e) {
            // fall back to the classpath
        }
        return System.getProperty("java.class.path");
    }

    /** A shaded forge-sim jar carries its (relocated) Jackson; a plain jar needs the caller's classpath. */
    private static boolean isSelfContained(Path jar) {
        try (var zip = new java.util.zip.ZipFile(jar.toFile())) {
            return zip.getEntry("io/forgequeue/forgesim/shaded/jackson/databind/json/JsonMapper.class") != null;
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Where the child's lines go: the kept last lines, the echo (with {@code tag}; none when null) and the log file
     * (none when null; closed when both streams have ended). Lines of stdout and stderr are written whole, one at a
     * time.
     */
    private record Sink(Deque<String> output, String tag, Writer log, AtomicInteger openStreams) {

        Sink(Deque<String> output, String tag, Writer log) {
            this(output, tag, log, new AtomicInteger(2));
        }

        void streamEnded() {
            if (openStreams.decrementAndGet() == 0 && log != null) {
                synchronized (output) {
                    try {
                        log.close();
                    } catch (IOException e) {
                        // nothing more to write anyway
                    }
                }
            }
        }

        void accept(String line) {
            synchronized (output) {
                output.addLast(line);
                while (output.size() > KEPT_LINES) {
                    output.removeFirst();
                }
                if (log != null) {
                    try {
                        log.write(line);
                        log.write('\n');
                        log.flush();
                    } catch (IOException e) {
                        // the log file is best effort; the kept lines still have it
                    }
                }
            }
            if (tag != null) {
                System.err.println(tag + line);
            }
        }
    }

    private static void pump(InputStream in, Sink sink, CompletableFuture<int[]> ports, String threadName) {
        Thread t = new Thread(
                () -> {
                    try (BufferedReader reader =
                            new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                        String line;
                        while ((line = reader.readLine()) != null) {
                            sink.accept(line);
                            if (ports != null && !ports.isDone()) {
                                Matcher m = LISTENING.matcher(line);
                                if (m.find()) {
                                    ports.complete(
                                            new int[] {Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2))});
                                }
                            }
                        }
                    } catch (IOException e) {
                        // the process is gone
                    } finally {
                        sink.streamEnded();
                    }
                },
                threadName);
        t.setDaemon(true);
        t.start();
    }

    private static List<String> snapshot(Deque<String> output) {
        synchronized (output) {
            return List.copyOf(output);
        }
    }
}
