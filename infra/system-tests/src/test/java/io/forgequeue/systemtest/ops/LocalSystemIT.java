package io.forgequeue.systemtest.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.forgequeue.testsupport.FreePort;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * {@code infra/local/up.sh} and {@code down.sh} for real, as an operator runs them, on throw-away ports and a run
 * directory under target/ (its own RabbitMQ node and PostgreSQL cluster, never the shared test servers): the
 * operator's own API key still works next to the local one, each worker drives a forge-sim of its own on the
 * configured ports, and down.sh stops everything it started (issue 15).
 */
class LocalSystemIT {

    private static final HttpClient HTTP =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();
    private static final JsonMapper JSON = JsonMapper.builder().build();

    /** Ports taken by this test so far, so that no two roles get the same one. */
    private final Set<Integer> taken = new HashSet<>();

    @Test
    void upStartsOneForgeSimPerWorkerOnTheGivenPortsAndKeepsTheOperatorsOwnKey() throws Exception {
        int gateway = freePorts(0);
        int management = freePorts(0);
        int workers = freePorts(0, 1);
        int sims = freePorts(0, 1, 2, 3);
        int rabbit = freeRabbitPorts();
        int postgres = freePorts(0);
        String operatorKey = "fq_operator_" + UUID.randomUUID().toString().replace("-", "");
        Path runDir = Files.createDirectories(OpsFiles.path("infra/system-tests/target/local-system-it"))
                .resolve("run-" + System.currentTimeMillis());
        Map<String, String> env = new HashMap<>(Map.of(
                "FQ_RUN_DIR",
                runDir.toString(),
                "FQ_SKIP_BUILD",
                "1",
                "FQ_WORKERS",
                "2",
                "FQ_GATEWAY_PORT",
                Integer.toString(gateway),
                "FQ_WORKER_PORT",
                Integer.toString(workers),
                "FQ_FORGE_SIM_PORT",
                Integer.toString(sims),
                "FQ_RABBIT_PORT",
                Integer.toString(rabbit),
                "FQ_PG_PORT",
                Integer.toString(postgres),
                "FQ_FORGE_SIM_STEP_MS",
                "0",
                "GATEWAY_BOOTSTRAP_API_KEY",
                operatorKey));
        env.put("FQ_JAVA_OPTS", "-Xmx384m -XX:TieredStopAtLevel=1");
        env.put("FQ_GATEWAY_MANAGEMENT_PORT", Integer.toString(management));
        LocalScripts.Run down;
        try {
            LocalScripts.Run up = LocalScripts.script(env, Duration.ofMinutes(8), "up.sh");

            assertThat(up.exitCode()).as("up.sh:\n%s", up).isZero();
            assertThat(up.stdout())
                    .contains(
                            "forge-sim-1 up",
                            "forge-sim-2 up",
                            "gateway up",
                            "worker-1 up",
                            "worker-2 up",
                            "Forge Queue is up");
            String localKey = Files.readString(runDir.resolve("local/api-key")).strip();
            String queue = "http://127.0.0.1:" + gateway + "/api/v1/queue";
            assertThat(status(queue, operatorKey)).as("the operator's own key").isEqualTo(200);
            assertThat(status(queue, localKey)).as("the local key up.sh made").isEqualTo(200);
            assertThat(status(queue, "fq_nobody_" + UUID.randomUUID()))
                    .as("any other key")
                    .isEqualTo(401);
            assertThat(status("http://127.0.0.1:" + management + "/actuator/health/readiness", null))
                    .as("the gateway's actuator on its management port")
                    .isEqualTo(200);
            assertThat(status("http://127.0.0.1:" + gateway + "/actuator/prometheus", null))
                    .as("never on the public port")
                    .isEqualTo(404);
            for (int i = 0; i < 2; i++) {
                JsonNode health = json("http://127.0.0.1:" + (workers + i) + "/actuator/health");
                assertThat(health.path("components")
                                .path("forge")
                                .path("status")
                                .asString())
                        .as("worker-%d's Forge", i + 1)
                        .isEqualTo("UP");
                assertThat(health.path("components").path("forge").has("details"))
                        .as("no health details on worker-%d's port", i + 1)
                        .isFalse();
                // the worker names the Forge it was given when it starts (its health details are not public)
                assertThat(Files.readString(runDir.resolve("local/logs/worker-" + (i + 1) + ".log")))
                        .as("the Forge of worker-%d", i + 1)
                        .containsPattern(
                                "Forge client for http://127\\.0\\.0\\.1:" + (sims + 2 * i) + "/? \\(identity");
                assertThat(json("http://127.0.0.1:" + (sims + 2 * i) + "/sdapi/v1/progress")
                                .has("progress"))
                        .as("forge-sim-%d answers", i + 1)
                        .isTrue();
            }
            // issue 19: the apps connect with their own least-privilege broker users (guest is the operators'), and the
            // workers, announcing themselves with their user, are admitted by the gateway
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                assertThat(brokerUsers(rabbit + 10000))
                        .as("users of the broker's connections")
                        .containsExactlyInAnyOrder("fq-gateway", "worker-1", "worker-2");
                JsonNode overview = JSON.readTree(HTTP.send(
                                HttpRequest.newBuilder(URI.create(queue))
                                        .header("Authorization", "Bearer " + localKey)
                                        .timeout(Duration.ofSeconds(10))
                                        .build(),
                                HttpResponse.BodyHandlers.ofString())
                        .body());
                assertThat(overview.path("availableWorkers").asInt())
                        .as("workers admitted: %s", overview)
                        .isEqualTo(2);
            });
            assertThat(up.stdout())
                    .contains("FQ_RUN_DIR=" + runDir + " FQ_RABBIT_PORT=" + rabbit + " FQ_PG_PORT=" + postgres
                            + " infra/local/down.sh");
        } finally {
            down = LocalScripts.script(env, Duration.ofMinutes(4), "down.sh");
        }

        assertThat(down.exitCode()).as("down.sh:\n%s", down).isZero();
        assertThat(down.stdout())
                .contains(
                        "worker-1 stopped",
                        "worker-2 stopped",
                        "gateway stopped",
                        "forge-sim-1 stopped",
                        "forge-sim-2 stopped");
        for (int port : List.of(gateway, management, workers, workers + 1, sims, sims + 2, rabbit, postgres)) {
            assertThat(listening(port))
                    .as("something still listens on %d after down.sh", port)
                    .isFalse();
        }
        deleteTree(runDir); // kept when a check failed, for a look at the logs under local/logs/
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    private static int status(String url, String apiKey) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(URI.create(url))
                .header("Authorization", "Bearer " + apiKey)
                .timeout(Duration.ofSeconds(10))
                .build();
        return HTTP.send(request, HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    /** The distinct users of the broker's open connections (management API, as guest from the loopback). */
    private static Set<String> brokerUsers(int managementPort) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + managementPort + "/api/connections?columns=user"))
                .header(
                        "Authorization",
                        "Basic " + java.util.Base64.getEncoder().encodeToString("guest:guest".getBytes()))
                .timeout(Duration.ofSeconds(10))
                .build();
        Set<String> users = new HashSet<>();
        JSON.readTree(HTTP.send(request, HttpResponse.BodyHandlers.ofString()).body())
                .forEach(c -> users.add(c.path("user").asString()));
        return users;
    }

    private static JsonNode json(String url) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(URI.create(url))
                .timeout(Duration.ofSeconds(10))
                .build();
        return JSON.readTree(
                HTTP.send(request, HttpResponse.BodyHandlers.ofString()).body());
    }

    /** A base port such that base + each offset is free now and not taken by another role of this test. */
    private int freePorts(int... offsets) {
        for (int attempt = 0; attempt < 500; attempt++) {
            int base = FreePort.next();
            if (allFree(base, offsets)) {
                for (int offset : offsets) {
                    taken.add(base + offset);
                }
                return base;
            }
        }
        throw new IllegalStateException("no free block of ports found");
    }

    /**
     * AMQP port P with management P+10000, prometheus P+11000 and distribution P+20000 free, all outside 35672-35682
     * (rabbitmqctl's own distribution ports; see ENVIRONMENT.md).
     */
    private int freeRabbitPorts() {
        int[] offsets = {0, 10000, 11000, 20000};
        for (int attempt = 0; attempt < 500; attempt++) {
            int base = 20000 + FreePort.next() % 25000;
            boolean clearOfCtl = true;
            for (int offset : offsets) {
                clearOfCtl &= base + offset < 35672 || base + offset > 35682;
            }
            if (clearOfCtl && allFree(base, offsets)) {
                for (int offset : offsets) {
                    taken.add(base + offset);
                }
                return base;
            }
        }
        throw new IllegalStateException("no free block of ports for RabbitMQ found");
    }

    private boolean allFree(int base, int[] offsets) {
        List<ServerSocket> probes = new ArrayList<>();
        try {
            for (int offset : offsets) {
                int port = base + offset;
                if (port > 65535 || taken.contains(port)) {
                    return false;
                }
                probes.add(new ServerSocket(port, 1, InetAddress.getLoopbackAddress()));
            }
            return true;
        } catch (IOException e) {
            return false;
        } finally {
            for (ServerSocket probe : probes) {
                try {
                    probe.close();
                } catch (IOException e) {
                    // closing a probe
                }
            }
        }
    }

    private static boolean listening(int port) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1000);
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
