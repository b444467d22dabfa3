package io.forgequeue.systemtest.ops;

import static io.forgequeue.systemtest.ops.ImageDefinitions.APP_MODULES;
import static io.forgequeue.systemtest.ops.OpsFiles.map;
import static io.forgequeue.systemtest.ops.OpsFiles.string;
import static org.assertj.core.api.Assertions.assertThat;

import io.forgequeue.testsupport.BrokerRoles;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * infra/compose.yaml (not run here: no Docker engine on our build machines): the apps run the images the Maven build
 * defines, from one registry and tag that two variables set, with the images' own entrypoint; Compose waits for their
 * graceful shutdown; and the published ports are the ones the apps listen on.
 */
class ComposeFileTest {

    /** ${NAME}, ${NAME:-default} or ${NAME-default}, as Compose interpolates them. */
    private static final Pattern VARIABLE = Pattern.compile("\\$\\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?}");

    private static Map<String, Object> services;

    @BeforeAll
    static void parseTheComposeFile() {
        services = map(OpsFiles.yamlFile("infra/compose.yaml"), "services");
        assertThat(services).containsKeys(APP_MODULES.keySet().toArray(String[]::new));
    }

    @Test
    void theAppsRunTheImagesTheMavenBuildDefinesFromOneRegistryAndTagTheEnvironmentSets() {
        Map<String, String> operator = Map.of(
                "FQ_IMAGE_REGISTRY", "registry.example.com/team",
                "FQ_IMAGE_TAG", "1.2.3");

        for (String app : APP_MODULES.keySet()) {
            String image = string(services.get(app), "image");

            assertThat(interpolate(image, Map.of()))
                    .as("image of %s, by default", app)
                    .isEqualTo(ImageDefinitions.reference(app));
            assertThat(interpolate(image, operator))
                    .as("image of %s with FQ_IMAGE_REGISTRY and FQ_IMAGE_TAG", app)
                    .isEqualTo("registry.example.com/team/" + app + ":1.2.3");
        }
    }

    @Test
    void theAppContainersStartWithTheirImagesEntrypointAndMountNoJar() {
        for (String app : APP_MODULES.keySet()) {
            Map<String, Object> service = map(services, app);
            Object command = service.get("command");

            assertThat(service).as("service %s", app).doesNotContainKey("entrypoint");
            if (command instanceof List<?> args && !args.isEmpty()) {
                assertThat(args.get(0).toString())
                        .as("command of %s (arguments only)", app)
                        .startsWith("--");
            } else {
                assertThat(command).as("command of %s", app).isNull();
            }
            assertThat(String.valueOf(service.get("volumes")))
                    .as("volumes of %s", app)
                    .doesNotContain(".jar");
        }
    }

    /** Compose sends SIGTERM, then SIGKILL after stop_grace_period (10 s by default). */
    @Test
    void composeWaitsForTheGracefulShutdownOfTheGatewayAndOfAWorkerWithARunningJob() {
        Map<String, Object> gatewayConfig =
                OpsFiles.flatten(OpsFiles.yamlFile("api-gateway/src/main/resources/application.yaml"));
        Map<String, Object> workerConfig =
                OpsFiles.flatten(OpsFiles.yamlFile("gpu-worker/src/main/resources/application.yml"));
        Duration gatewayPhase =
                OpsFiles.duration(gatewayConfig.getOrDefault("spring.lifecycle.timeout-per-shutdown-phase", "30s"));
        Object workerGraceSetting = map(services, "gpu-worker.environment").get("WORKER_SHUTDOWNGRACE");
        Duration workerGrace = OpsFiles.duration(
                workerGraceSetting != null ? workerGraceSetting : workerConfig.get("worker.shutdown-grace"));

        Duration gatewayStop = OpsFiles.duration(string(services.get("api-gateway"), "stop_grace_period"));
        Duration workerStop = OpsFiles.duration(string(services.get("gpu-worker"), "stop_grace_period"));

        assertThat(gatewayStop).isGreaterThan(gatewayPhase);
        assertThat(workerStop)
                .as("worker stop_grace_period vs grace (%s) + give-back + Spring's 10 s", workerGrace)
                .isGreaterThan(workerGrace.plus(OpsFiles.workerAfterGrace()).plusSeconds(10));
    }

    @Test
    void theGatewayAndForgeSimArePublishedOnThePortsTheyListenOn() {
        String gatewayDefault = OpsFiles.defaultOf(
                OpsFiles.flatten(OpsFiles.yamlFile("api-gateway/src/main/resources/application.yaml"))
                        .get("server.port"));
        Object gatewayEnvPort = map(services, "api-gateway.environment").get("SERVER_PORT");
        String gatewayListens = gatewayEnvPort != null ? gatewayEnvPort.toString() : gatewayDefault;
        Object forgeSimEnvPort = map(services, "forge-sim.environment").get("FORGE_SIM_PORT");
        String forgeSimListens = forgeSimEnvPort != null ? forgeSimEnvPort.toString() : "7861";

        assertThat(containerPorts("api-gateway")).containsExactly(gatewayListens);
        assertThat(containerPorts("forge-sim")).containsExactly(forgeSimListens);
        assertThat(String.valueOf(map(services, "gpu-worker.environment").get("FORGE_URL")))
                .as("the worker's default Forge is the forge-sim service")
                .contains("forge-sim:" + forgeSimListens);
    }

    /** Issue 19: the gateway's actuator is on its management port: not published, but health-checked and scraped. */
    @Test
    void theGatewaysManagementPortIsNotPublishedButHealthCheckedAndScraped() {
        Object envPort = map(services, "api-gateway.environment").get("MANAGEMENT_SERVER_PORT");
        String management = envPort != null
                ? envPort.toString()
                : String.valueOf(OpsFiles.flatten(OpsFiles.yamlFile("api-gateway/src/main/resources/application.yaml"))
                        .get("management.server.port"));
        String healthcheck =
                String.valueOf(map(services, "api-gateway.healthcheck").get("test"));
        String scrapes = String.valueOf(OpsFiles.yamlFile("infra/prometheus/prometheus-compose.yml"));

        assertThat(containerPorts("api-gateway")).doesNotContain(management);
        assertThat(healthcheck)
                .contains("/dev/tcp/127.0.0.1/" + management + " ")
                .contains("/actuator/health/readiness");
        assertThat(scrapes)
                .contains("api-gateway:" + management)
                .doesNotContain("api-gateway:" + containerPorts("api-gateway").get(0));
    }

    /** Issue 19: the apps never connect as the broker's administrator; broker-users creates their users first. */
    @Test
    void theAppsConnectWithTheirOwnLeastPrivilegeBrokerUsersMadeBeforeThemNeverAsTheAdministrator() throws Exception {
        Map<String, Object> gateway = map(services, "api-gateway.environment");
        Map<String, Object> worker = map(services, "gpu-worker.environment");
        String script = java.nio.file.Files.readString(OpsFiles.path("infra/rabbitmq/broker-users.py"));
        BrokerRoles.Permissions workers = BrokerRoles.workers(".+");

        assertThat(gateway.get("SPRING_RABBITMQ_USERNAME")).isEqualTo("fq-gateway");
        assertThat(worker.get("SPRING_RABBITMQ_USERNAME")).isEqualTo("fq-worker");
        assertThat(interpolate(String.valueOf(gateway.get("SPRING_RABBITMQ_PASSWORD")), Map.of()))
                .isNotEqualTo("guest");
        assertThat(interpolate(String.valueOf(worker.get("SPRING_RABBITMQ_PASSWORD")), Map.of()))
                .isNotEqualTo("guest");
        for (String app : List.of("api-gateway", "gpu-worker")) {
            assertThat(string(map(services, app + ".depends_on"), "broker-users.condition"))
                    .as(app)
                    .isEqualTo("service_completed_successfully");
        }
        assertThat(String.valueOf(map(services, "gpu-worker.depends_on").keySet()))
                .as("the gateway declares what the worker binds to")
                .contains("api-gateway");
        assertThat(script)
                .contains(
                        "\"" + BrokerRoles.GATEWAY_ALL + "\"",
                        "\"" + BrokerRoles.GATEWAY_WRITE + "\"",
                        "GATEWAY_ALL, GATEWAY_WRITE, GATEWAY_ALL)",
                        "\"" + workers.configure() + "\"",
                        "\"" + workers.write() + "\"",
                        "\"" + workers.read() + "\"",
                        "\"" + BrokerRoles.WORKER_TOPIC_WRITE + "\"",
                        "\"" + BrokerRoles.WORKER_TOPIC_READ + "\"");
    }

    /** The container side of "host-ip:host-port:container-port" entries. */
    private static List<String> containerPorts(String service) {
        Object ports = map(services, service).get("ports");
        assertThat(ports).as("ports of %s", service).isInstanceOf(List.class);
        return ((List<?>) ports)
                .stream()
                        .map(p -> p.toString().substring(p.toString().lastIndexOf(':') + 1))
                        .toList();
    }

    /** Compose's interpolation of ${NAME}, ${NAME:-default} and ${NAME-default} (unset or empty -> the default). */
    private static String interpolate(String value, Map<String, String> environment) {
        Matcher m = VARIABLE.matcher(value);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String set = environment.get(m.group(1));
            String replacement = set != null && !set.isEmpty() ? set : m.group(2) != null ? m.group(2) : "";
            m.appendReplacement(out, Matcher.quoteReplacement(replacement));
        }
        m.appendTail(out);
        return out.toString();
    }
}
