package io.forgequeue.systemtest;

import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * A RabbitMQ cluster of this suite's own: one node {@code fq<port>@localhost} per AMQP port, run with
 * {@code infra/local/rabbitmq.sh} in cluster mode ({@code FQ_RABBIT_CLUSTER_NODES}: classic_config peer discovery and
 * one shared Erlang cookie) with its data under {@code <repo>/.run/cluster}, so a test may kill and restart nodes
 * without touching the shared test broker (5702). Management API on port + 10000 (guest/guest). Script output goes
 * to {@code target/system-test-logs/cluster-rabbitmq-<port>.log}. Not thread-safe: one test drives it.
 */
final class RabbitCluster implements AutoCloseable {

    private static final long SCRIPT_TIMEOUT_SECONDS = 180;
    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final HttpClient HTTP =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private static final String AUTH =
            "Basic " + Base64.getEncoder().encodeToString("guest:guest".getBytes(StandardCharsets.UTF_8));

    private final List<Integer> ports;
    private boolean started;

    private RabbitCluster(List<Integer> ports) {
        for (int p : ports) {
            for (int derived : new int[] {p, p + 10000, p + 11000, p + 20000}) {
                if (derived >= 35672 && derived <= 35682) {
                    throw new IllegalArgumentException("port " + derived + " (from " + p + ") is in 35672-35682, "
                            + "which rabbitmqctl uses for itself");
                }
            }
        }
        this.ports = List.copyOf(ports);
    }

    /** A cluster of one node per AMQP port (not started). */
    static RabbitCluster onPorts(Integer... ports) {
        return new RabbitCluster(List.of(ports));
    }

    /** {@code <repo>/.run/cluster}. */
    static Path runDir() {
        return SystemPaths.root().resolve(".run").resolve("cluster");
    }

    List<Integer> ports() {
        return ports;
    }

    static String nodeName(int port) {
        return "fq" + port + "@localhost";
    }

    /** The port of a node name {@code fq<port>@localhost} of this cluster. */
    int portOf(String nodeName) {
        return ports.stream()
                .filter(p -> nodeName(p).equals(nodeName))
                .findFirst()
                .orElseThrow(() -> new IllegalArgumentException(nodeName + " is not a node of " + ports));
    }

    /** {@code 127.0.0.1:p1,127.0.0.1:p2,...}: SPRING_RABBITMQ_ADDRESSES for the apps. */
    String addresses() {
        return ports.stream().map(p -> "127.0.0.1:" + p).collect(Collectors.joining(","));
    }

    /**
     * Deletes what an earlier run left (all nodes, side by side), then starts every node side by side so that they
     * form the cluster at boot; returns once every node answers (the script waits for AMQP and the management API).
     */
    void startFresh() {
        onEveryNode("reset");
        started = true;
        onEveryNode("start");
    }

    /** Starts one node again (e.g. after {@link #kill}); with its data it rejoins the cluster it belongs to. */
    void start(int port) {
        script(port, "start");
    }

    /** SIGKILL of a node's beam process (from its pid file): a crash, no clean shutdown. */
    void kill(int port) {
        long pid = pid(port);
        ProcessHandle handle = ProcessHandle.of(pid)
                .orElseThrow(() ->
                        new IllegalStateException("node " + nodeName(port) + " (pid " + pid + ") is not running"));
        if (!handle.destroyForcibly()) {
            throw new IllegalStateException("could not SIGKILL " + pid);
        }
        try {
            handle.onExit().get(15, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("node " + nodeName(port) + " (pid " + pid + ") did not die", e);
        }
    }

    /** The beam process id of a node, from its pid file. */
    long pid(int port) {
        Path file = runDir().resolve("rabbitmq").resolve("fq" + port).resolve("rabbit.pid");
        try {
            return Long.parseLong(Files.readString(file, StandardCharsets.UTF_8).replaceAll("[^0-9]", ""));
        } catch (IOException | RuntimeException e) {
            throw new IllegalStateException("no pid file " + file + " (is the node running?)", e);
        }
    }

    /** {@code GET /api/<path>} on the node of {@code port}; empty when it does not answer 200. */
    Optional<JsonNode> api(int port, String path) {
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + (port + 10000) + "/api/" + path))
                .timeout(Duration.ofSeconds(5))
                .header("Authorization", AUTH)
                .GET()
                .build();
        try {
            HttpResponse<byte[]> r = HTTP.send(request, HttpResponse.BodyHandlers.ofByteArray());
            return r.statusCode() == 200 ? Optional.of(JSON.readTree(r.body())) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** {@code PUT}/{@code POST}/{@code DELETE} of {@code /api/<path>} (JSON body or null); fails unless 2xx. */
    void write(int port, String method, String path, String json) {
        HttpResponse<String> r = send(port, method, path, json);
        if (r.statusCode() / 100 != 2) {
            throw new IllegalStateException(method + " /api/" + path + " answered " + r.statusCode() + " " + r.body());
        }
    }

    /** Like {@link #write} but returns the HTTP status instead of failing. */
    int tryWrite(int port, String method, String path, String json) {
        return send(port, method, path, json).statusCode();
    }

    private HttpResponse<String> send(int port, String method, String path, String json) {
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + (port + 10000) + "/api/" + path))
                .timeout(Duration.ofSeconds(10))
                .header("Authorization", AUTH)
                .header("Content-Type", "application/json")
                .method(
                        method,
                        json == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(json))
                .build();
        try {
            return HTTP.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new IllegalStateException(method + " /api/" + path + " failed", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** A queue of the default virtual host as the node of {@code port} sees it (type, leader, members, online...). */
    Optional<JsonNode> queue(int port, String name) {
        return api(
                port,
                "queues/%2F/" + URLEncoder.encode(name, StandardCharsets.UTF_8).replace("+", "%20"));
    }

    /**
     * Messages ready in a queue of the default virtual host right now (AMQP passive declare on the node of
     * {@code port}; the management API's counts lag by up to 5 s). For a queue without consumers that is all of them.
     */
    long readyMessages(int port, String queue) {
        com.rabbitmq.client.ConnectionFactory factory = new com.rabbitmq.client.ConnectionFactory();
        factory.setHost("127.0.0.1");
        factory.setPort(port);
        factory.setConnectionTimeout(5000);
        factory.setAutomaticRecoveryEnabled(false);
        try (com.rabbitmq.client.Connection c = factory.newConnection("cluster-system-test");
                com.rabbitmq.client.Channel ch = c.createChannel()) {
            return ch.queueDeclarePassive(queue).getMessageCount();
        } catch (IOException | java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("could not count " + queue + " on " + nodeName(port), e);
        }
    }

    /** Names of the cluster's nodes that the node of {@code port} reports as running. */
    List<String> runningNodes(int port) {
        List<String> running = new ArrayList<>();
        api(port, "nodes?columns=name,running")
                .ifPresent(nodes -> nodes.forEach(n -> {
                    if (n.path("running").asBoolean(false)) {
                        running.add(n.path("name").asString());
                    }
                }));
        return running;
    }

    /**
     * How long the survivors took to elect a new leader of {@code queue} after {@code deadPort}'s node went down, from
     * the nodes' own logs: the first "candidate -> leader" line of the queue on any survivor after the first survivor
     * noticed the node down. Empty when the logs do not show both lines.
     */
    Optional<Duration> electionTimeFromLogs(int deadPort, String queue) {
        java.time.OffsetDateTime down = null;
        List<java.time.OffsetDateTime> elected = new ArrayList<>();
        for (int port : ports) {
            if (port == deadPort) {
                continue;
            }
            Path log = runDir().resolve("rabbitmq")
                    .resolve("fq" + port)
                    .resolve("log")
                    .resolve(nodeName(port) + ".log");
            List<String> lines;
            try {
                lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            } catch (IOException e) {
                return Optional.empty();
            }
            java.time.OffsetDateTime seenDown = null;
            for (String line : lines) {
                if (line.length() < 32) {
                    continue;
                }
                if (line.contains("rabbit on node " + nodeName(deadPort) + " down")) {
                    seenDown = time(line);
                    down = down == null || seenDown.isBefore(down) ? seenDown : down;
                } else if (seenDown != null
                        && line.contains("queue '" + queue + "' in vhost '/': candidate -> leader")) {
                    elected.add(time(line));
                }
            }
        }
        if (down == null || elected.isEmpty()) {
            return Optional.empty();
        }
        java.time.OffsetDateTime first =
                elected.stream().min(java.util.Comparator.naturalOrder()).orElseThrow();
        return Optional.of(Duration.between(down, first));
    }

    private static java.time.OffsetDateTime time(String logLine) {
        return java.time.OffsetDateTime.parse(
                logLine.substring(0, logLine.indexOf(' ', 11)).replace(' ', 'T'));
    }

    /** {@code rabbitmqctl cluster_status} of one node, as the script prints it. */
    String clusterStatus(int port) {
        return script(port, "cluster-status");
    }

    /** Stops every node side by side (clean stop with the script), then tries to end the private epmd. */
    @Override
    public void close() {
        if (!started) {
            return;
        }
        started = false;
        try {
            onEveryNode("stop");
        } finally {
            stopEpmdIfUnused();
        }
    }

    /**
     * {@code epmd -kill} on the private epmd port 4370: epmd outlives the nodes (see the script's header), and it
     * refuses to die while any node (e.g. the shared test broker) is still registered, so this is always safe.
     */
    static void stopEpmdIfUnused() {
        try {
            ProcessBuilder pb = new ProcessBuilder("epmd", "-kill")
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(
                            SystemPaths.logDir().resolve("cluster-epmd.log").toFile()));
            pb.environment().put("ERL_EPMD_PORT", "4370");
            Process p = pb.start();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        } catch (IOException e) {
            // epmd missing: nothing to stop
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void onEveryNode(String command) {
        // own threads: the common pool may have a single thread on a 2-core machine, which would run them in turn
        ExecutorService pool = Executors.newFixedThreadPool(ports.size());
        try {
            List<CompletableFuture<String>> runs = new ArrayList<>();
            for (int port : ports) {
                runs.add(CompletableFuture.supplyAsync(() -> script(port, command), pool));
            }
            RuntimeException failure = null;
            for (CompletableFuture<String> run : runs) {
                try {
                    run.join();
                } catch (CompletionException e) {
                    if (failure == null) {
                        failure = e.getCause() instanceof RuntimeException r
                                ? r
                                : new IllegalStateException(e.getCause());
                    }
                }
            }
            if (failure != null) {
                throw failure;
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private String script(int port, String command) {
        Path root = SystemPaths.root();
        Path script = root.resolve("infra").resolve("local").resolve("rabbitmq.sh");
        Path output = SystemPaths.logDir().resolve("cluster-rabbitmq-" + port + ".log");
        try {
            Path capture = Files.createTempFile("cluster-rabbitmq-" + port + "-", ".out");
            try {
                ProcessBuilder builder = new ProcessBuilder("bash", script.toString(), command)
                        .directory(root.toFile())
                        .redirectErrorStream(true)
                        .redirectOutput(capture.toFile())
                        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
                builder.environment().put("FQ_RUN_DIR", runDir().toString());
                builder.environment().put("FQ_RABBIT_PORT", Integer.toString(port));
                builder.environment()
                        .put(
                                "FQ_RABBIT_CLUSTER_NODES",
                                ports.stream().map(RabbitCluster::nodeName).collect(Collectors.joining(",")));
                builder.environment().remove("FQ_RABBIT_NODE");
                builder.environment().remove("FQ_RABBIT_COOKIE_FILE");
                Process process = builder.start();
                boolean done = process.waitFor(SCRIPT_TIMEOUT_SECONDS, TimeUnit.SECONDS);
                if (!done) {
                    process.destroy();
                }
                String text = Files.readString(capture, StandardCharsets.UTF_8);
                Files.writeString(
                        output,
                        "$ rabbitmq.sh " + command + "\n" + text,
                        StandardCharsets.UTF_8,
                        java.nio.file.StandardOpenOption.CREATE,
                        java.nio.file.StandardOpenOption.APPEND);
                if (!done) {
                    throw new IllegalStateException("rabbitmq.sh " + command + " (port " + port
                            + ") did not finish within " + SCRIPT_TIMEOUT_SECONDS + " s; see " + output);
                }
                if (process.exitValue() != 0) {
                    throw new IllegalStateException("rabbitmq.sh " + command + " (port " + port
                            + ") failed with exit code " + process.exitValue() + "; see " + output);
                }
                return text;
            } finally {
                Files.deleteIfExists(capture);
            }
        } catch (IOException e) {
            throw new IllegalStateException("could not run " + script + " " + command, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
