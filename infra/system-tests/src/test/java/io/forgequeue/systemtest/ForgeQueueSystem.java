package io.forgequeue.systemtest;

import io.forgequeue.forgesim.ForgeSimProcess;
import io.forgequeue.testsupport.PostgresEndpoint;
import io.forgequeue.testsupport.RabbitEndpoint;
import io.forgequeue.testsupport.TestInfrastructure;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * The whole system as real processes: forge-sim, gateways and workers from their packaged jars, against the
 * harness's real RabbitMQ (a fresh virtual host) and PostgreSQL (a fresh database).
 */
final class ForgeQueueSystem implements AutoCloseable {

    /** API keys the gateways are started with (the first is "alice", the second "bob"). */
    static final String ALICE_KEY = "fq_test_alice_" + UUID.randomUUID().toString().replace("-", "");
    static final String BOB_KEY = "fq_test_bob_" + UUID.randomUUID().toString().replace("-", "");

    private final String name;
    private final RabbitEndpoint rabbit;
    private final PostgresEndpoint postgres;
    private final ForgeSimProcess forge;
    private final List<AppProcess> gateways = new ArrayList<>();
    private final List<AppProcess> workers = new ArrayList<>();
    private final Map<String, String> workerEnv;

    private ForgeQueueSystem(String name, List<String> forgeArgs, Map<String, String> workerEnv) {
        this.name = name;
        this.workerEnv = Map.copyOf(workerEnv);
        this.rabbit = TestInfrastructure.rabbit().withFreshVirtualHost("sys_" + name);
        this.postgres = TestInfrastructure.postgres().withFreshDatabase("sys_" + name);
        try {
            this.forge = ForgeSimProcess.builder().args(forgeArgs.toArray(String[]::new)).start();
        } catch (IOException e) {
            throw new UncheckedIOException("forge-sim did not start", e);
        }
    }

    /**
     * Starts forge-sim with {@code forgeArgs}, {@code gatewayCount} gateways and {@code workerCount} workers.
     * Everything started is stopped again if a later part fails to start.
     */
    static ForgeQueueSystem start(String name, int gatewayCount, int workerCount, List<String> forgeArgs,
                                  Map<String, String> workerEnv) {
        ForgeQueueSystem system = new ForgeQueueSystem(name, forgeArgs, workerEnv);
        try {
            for (int i = 1; i <= gatewayCount; i++) {
                system.addGateway();
            }
            for (int i = 1; i <= workerCount; i++) {
                system.addWorker();
            }
            return system;
        } catch (RuntimeException e) {
            system.close();
            throw e;
        }
    }

    AppProcess addGateway() {
        String id = name + "-gw" + (gateways.size() + 1);
        Map<String, String> env = brokerEnv();
        env.put("SPRING_DATASOURCE_URL", postgres.jdbcUrl());
        env.put("SPRING_DATASOURCE_USERNAME", postgres.username());
        env.put("SPRING_DATASOURCE_PASSWORD", postgres.password() == null ? "" : postgres.password());
        env.put("GATEWAY_INSTANCE_ID", id);
        env.put("GATEWAY_BOOTSTRAP_API_KEY", ALICE_KEY + "," + BOB_KEY);
        AppProcess gw = AppProcess.start(id, SystemPaths.gatewayJar(), env, freePort());
        gateways.add(gw);
        return gw;
    }

    AppProcess addWorker() {
        String id = name + "-w" + (workers.size() + 1);
        Map<String, String> env = brokerEnv();
        env.put("FORGE_URL", forge.baseUrl().toString());
        env.put("WORKER_ID", id);
        env.put("WORKER_POOL", "default");
        env.putAll(workerEnv);
        AppProcess w = AppProcess.start(id, SystemPaths.workerJar(), env, freePort());
        workers.add(w);
        return w;
    }

    private Map<String, String> brokerEnv() {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("SPRING_RABBITMQ_ADDRESSES", rabbit.addresses());
        env.put("SPRING_RABBITMQ_USERNAME", rabbit.username());
        env.put("SPRING_RABBITMQ_PASSWORD", rabbit.password());
        env.put("SPRING_RABBITMQ_VIRTUAL_HOST", rabbit.virtualHost());
        return env;
    }

    AppProcess gateway(int index) {
        return gateways.get(index);
    }

    List<AppProcess> workers() {
        return List.copyOf(workers);
    }

    ForgeSimProcess forge() {
        return forge;
    }

    RabbitEndpoint rabbit() {
        return rabbit;
    }

    PostgresEndpoint postgres() {
        return postgres;
    }

    /** A REST client of gateway {@code index} with {@code apiKey}. */
    Http http(int index, String apiKey) {
        return new Http(gateway(index).baseUrl(), apiKey);
    }

    WsClient ws(int index, String apiKey) {
        return WsClient.connect(gateway(index).baseUrl(), apiKey);
    }

    @Override
    public void close() {
        for (AppProcess w : workers) {
            w.stop(Duration.ofSeconds(15));
        }
        for (AppProcess g : gateways) {
            g.stop(Duration.ofSeconds(15));
        }
        if (forge != null) {
            forge.close();
        }
    }

    static int freePort() {
        try (ServerSocket s = new ServerSocket(0)) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A request body for {@code POST /api/v1/jobs}. */
    static Map<String, Object> job(String prompt, int steps) {
        Map<String, Object> body = new HashMap<>();
        body.put("prompt", prompt);
        body.put("width", 64);
        body.put("height", 64);
        body.put("steps", steps);
        body.put("seed", 1000 + Math.abs(prompt.hashCode() % 1000));
        return body;
    }
}
