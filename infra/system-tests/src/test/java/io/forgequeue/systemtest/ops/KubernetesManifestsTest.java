package io.forgequeue.systemtest.ops;

import static io.forgequeue.systemtest.ops.OpsFiles.at;
import static io.forgequeue.systemtest.ops.OpsFiles.list;
import static io.forgequeue.systemtest.ops.OpsFiles.map;
import static io.forgequeue.systemtest.ops.OpsFiles.string;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import io.forgequeue.testsupport.BrokerRoles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Kubernetes manifests of infra/k8s/: every document is a well-formed object, the Deployments run the images the
 * Maven build defines (set in one place, kustomization.yaml) and have resources and probes on the actuator health
 * groups, the worker holds one GPU and outlives its job on shutdown, KEDA scales the worker Deployment on the
 * gateways' queue metrics of its pool (catalogued, and answering right on synthetic series), and every environment
 * variable is one the apps read (their application.yml).
 */
class KubernetesManifestsTest {

    private static final Path DIR = OpsFiles.path("infra/k8s");
    private static final String NAMESPACE = "forge-queue";
    private static final Set<String> CLUSTER_SCOPED = Set.of("Namespace");

    /** Variables read by the JVM itself (not by Spring), allowed in any app container. */
    private static final Set<String> JVM_VARIABLES = Set.of("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS");

    /**
     * Spring Boot's spring.rabbitmq.virtual-host, bound by both apps (legacy env form). The gateway's
     * application.yaml names it as a placeholder; the worker's binds the same RabbitProperties and names the
     * variable in its header comment.
     */
    private static final Set<String> BOOT_RABBIT_VARIABLES = Set.of("SPRING_RABBITMQ_VIRTUAL_HOST");

    /** Keys of the Secret the RabbitMQ Cluster Operator creates for a RabbitmqCluster ("<name>-default-user"). */
    private static final Set<String> OPERATOR_SECRET_KEYS = Set.of("username", "password", "host", "port");
    /** Keys of the Secret the Messaging Topology Operator generates for a User ({@code <user>-user-credentials}). */
    private static final Set<String> USER_SECRET_KEYS = Set.of("username", "password");

    private static Map<Path, List<Map<String, Object>>> documentsByFile;
    private static List<Map<String, Object>> objects;

    @BeforeAll
    static void parseEveryManifest() {
        documentsByFile = new LinkedHashMap<>();
        try (Stream<Path> files = Files.list(DIR)) {
            files.filter(f -> f.toString().endsWith(".yaml") || f.toString().endsWith(".yml"))
                    .sorted()
                    .forEach(f -> documentsByFile.put(f, OpsFiles.yamlDocuments(f)));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        objects = new ArrayList<>();
        documentsByFile.forEach((file, docs) -> {
            if (!file.getFileName().toString().equals("kustomization.yaml")) {
                objects.addAll(docs);
            }
        });
        assertThat(objects).as("manifests in %s", DIR).hasSizeGreaterThanOrEqualTo(9);
    }

    @Test
    void everyManifestHasAnApiVersionAKindAndANameInTheForgeQueueNamespace() {
        for (Map<String, Object> object : objects) {
            String id = describe(object);

            assertThat(string(object, "apiVersion")).as("apiVersion of %s", id).isNotBlank();
            assertThat(string(object, "kind")).as("kind of %s", id).isNotBlank();
            assertThat(string(object, "metadata.name"))
                    .as("metadata.name of %s", id)
                    .matches("[a-z0-9][a-z0-9.-]*");
            if (!CLUSTER_SCOPED.contains(string(object, "kind"))) {
                assertThat(string(object, "metadata.namespace"))
                        .as("namespace of %s", id)
                        .isEqualTo(NAMESPACE);
            }
        }
    }

    @Test
    void theKustomizationListsEveryManifestExceptTheExamplesAndOnlyExistingFiles() {
        Map<String, Object> kustomization =
                documentsByFile.get(DIR.resolve("kustomization.yaml")).get(0);
        List<?> resources = (List<?>) at(kustomization, "resources");
        Set<String> expected = new TreeSet<>();
        for (Path file : documentsByFile.keySet()) {
            String name = file.getFileName().toString();
            if (!name.equals("kustomization.yaml") && !name.contains(".example.")) {
                expected.add(name);
            }
        }

        assertThat(string(kustomization, "kind")).isEqualTo("Kustomization");
        assertThat(string(kustomization, "namespace")).isEqualTo(NAMESPACE);
        assertThat(new TreeSet<>(resources.stream().map(Object::toString).toList()))
                .isEqualTo(expected);
    }

    @Test
    void everyContainerHasAnImageAndResourceRequestsAndAMemoryLimit() {
        for (Map<String, Object> deployment : ofKind("Deployment")) {
            for (Map<String, Object> container : allContainers(deployment)) {
                String id = describe(deployment) + " container " + container.get("name");

                assertThat(string(container, "image")).as("image of %s", id).isNotBlank();
                assertThat(map(container, "resources.requests"))
                        .as("requests of %s", id)
                        .containsKeys("cpu", "memory");
                assertThat(map(container, "resources.limits"))
                        .as("limits of %s", id)
                        .containsKey("memory");
            }
        }
    }

    @Test
    void theAppContainersRunTheImagesTheMavenBuildDefines() {
        Map<String, Object> gateway = container(deployment("api-gateway"), "api-gateway");
        Map<String, Object> worker = container(deployment("gpu-worker"), "gpu-worker");

        assertThat(string(gateway, "image")).isEqualTo(ImageDefinitions.reference("api-gateway"));
        assertThat(string(worker, "image")).isEqualTo(ImageDefinitions.reference("gpu-worker"));
    }

    /**
     * kustomization.yaml is the one place where an operator points the manifests at a registry: it has an entry for
     * every image a container names, the apps' images go to one registry under their module names with the project
     * version, and the Forge sidecar's image is the operator's own (the build makes no such image).
     */
    @Test
    void theKustomizationSetsEveryImageAndTheAppsImagesComeFromOneRegistryWithTheProjectVersion() {
        Map<String, Object> kustomization =
                documentsByFile.get(DIR.resolve("kustomization.yaml")).get(0);
        Map<String, Map<String, Object>> entries = new LinkedHashMap<>();
        list(kustomization, "images").forEach(e -> entries.put(string(e, "name"), e));
        Set<String> named = new TreeSet<>();
        ofKind("Deployment")
                .forEach(d ->
                        allContainers(d).forEach(c -> named.add(ImageDefinitions.withoutTag(string(c, "image")))));
        Set<String> registries = new TreeSet<>();
        String forge = string(container(deployment("gpu-worker"), "forge"), "image");

        assertThat(entries.keySet())
                .as("images: entries of kustomization.yaml")
                .containsExactlyInAnyOrderElementsOf(named);
        for (String app : List.of("api-gateway", "gpu-worker")) {
            Map<String, Object> entry = entries.get(ImageDefinitions.repository(app));
            String newName = string(entry, "newName");

            assertThat(string(entry, "newTag")).as("newTag of %s", app).isEqualTo(ImageDefinitions.projectVersion());
            assertThat(newName).as("newName of %s", app).endsWith("/" + app);
            registries.add(newName.substring(0, newName.length() - app.length() - 1));
        }
        assertThat(registries).as("registries of the apps' images").hasSize(1);
        assertThat(ImageDefinitions.withoutTag(forge))
                .as("the Forge image")
                .isNotIn(ImageDefinitions.APP_MODULES.keySet().stream()
                        .map(ImageDefinitions::repository)
                        .toList());
    }

    @Test
    void theGatewayRunsTwoReplicasProbedOnItsActuatorHealthGroupsAndAnnotatedForPrometheus() {
        Map<String, Object> gateway = deployment("api-gateway");
        Map<String, Object> container = container(gateway, "api-gateway");
        int management = ((Number) gatewayConfig().get("management.server.port")).intValue();

        assertThat(at(gateway, "spec.replicas")).isEqualTo(2);
        assertProbe(container, "readinessProbe", "/actuator/health/readiness", management);
        assertProbe(container, "livenessProbe", "/actuator/health/liveness", management);
        assertScrapeAnnotations(gateway, management);
        assertThat(valueFrom(container, "GATEWAY_INSTANCE_ID"))
                .as("GATEWAY_INSTANCE_ID")
                .containsEntry("fieldRef", Map.of("fieldPath", "metadata.name"));
    }

    @Test
    void theWorkerPodHoldsExactlyOneGpuAndIsScheduledOnGpuNodes() {
        Map<String, Object> worker = deployment("gpu-worker");
        int gpus = 0;

        for (Map<String, Object> container : allContainers(worker)) {
            Object limit = at(container, "resources.limits");
            if (limit instanceof Map<?, ?> limits && limits.containsKey("nvidia.com/gpu")) {
                gpus += Integer.parseInt(limits.get("nvidia.com/gpu").toString());
            }
        }

        assertThat(gpus).as("nvidia.com/gpu limits in the worker pod").isEqualTo(1);
        assertThat(map(worker, "spec.template.spec.nodeSelector")).isNotEmpty();
    }

    @Test
    void theWorkerIsProbedOnItsActuatorTakesItsIdFromThePodNameAndDrivesTheForgeOfItsOwnPod() {
        Map<String, Object> worker = deployment("gpu-worker");
        Map<String, Object> container = container(worker, "gpu-worker");
        int port = Integer.parseInt(workerConfig().get("server.port").toString());

        assertProbe(container, "readinessProbe", "/actuator/health/readiness", port);
        assertProbe(container, "livenessProbe", "/actuator/health/liveness", port);
        assertScrapeAnnotations(worker, port);
        assertThat(valueFrom(container, "WORKER_ID"))
                .as("WORKER_ID")
                .containsEntry("fieldRef", Map.of("fieldPath", "metadata.name"));

        URI forge = URI.create(envValue(container, "FORGE_URL"));
        assertThat(forge.getHost()).as("FORGE_URL host").isIn("127.0.0.1", "localhost");
        Set<Integer> otherPorts = new HashSet<>();
        for (Map<String, Object> c : allContainers(worker)) {
            if (!"gpu-worker".equals(c.get("name"))) {
                list(c, "ports").forEach(p -> otherPorts.add((Integer) p.get("containerPort")));
            }
        }
        assertThat(otherPorts)
                .as("ports of the Forge container in the worker pod")
                .contains(forge.getPort());
    }

    /**
     * On SIGTERM the worker may finish its job for worker.shutdown-grace, then interrupts Forge and gives the job
     * back within AmqpConfiguration.AFTER_GRACE, and Spring waits 10 s more per phase; a job's Forge call lasts at
     * most worker.forge.call-timeout. The kubelet must not kill the pod before all of that.
     */
    @Test
    void theWorkersTerminationGracePeriodOutlastsAJobPlusTheShutdownGraceAndTheGiveBack() {
        Map<String, Object> worker = deployment("gpu-worker");
        Map<String, Object> container = container(worker, "gpu-worker");
        Map<String, Object> config = workerConfig();
        Duration grace =
                OpsFiles.duration(envOr(container, "WORKER_SHUTDOWNGRACE", config.get("worker.shutdown-grace")));
        Duration callTimeout = OpsFiles.duration(
                envOr(container, "WORKER_FORGE_CALLTIMEOUT", config.get("worker.forge.call-timeout")));
        Duration afterGrace = OpsFiles.workerAfterGrace();

        Duration terminationGrace = Duration.ofSeconds(
                ((Number) at(worker, "spec.template.spec.terminationGracePeriodSeconds")).longValue());

        assertThat(terminationGrace)
                .as("terminationGracePeriodSeconds vs a job (%s) plus the shutdown grace (%s)", callTimeout, grace)
                .isGreaterThan(callTimeout.plus(grace));
        assertThat(terminationGrace)
                .as("terminationGracePeriodSeconds vs grace + give-back + Spring's 10 s")
                .isGreaterThan(grace.plus(afterGrace).plusSeconds(10));
    }

    @Test
    void theGatewaysTerminationGracePeriodOutlastsItsPreStopPauseAndSpringsGracefulShutdown() {
        Map<String, Object> gateway = deployment("api-gateway");
        Map<String, Object> container = container(gateway, "api-gateway");
        Object phase = gatewayConfig().getOrDefault("spring.lifecycle.timeout-per-shutdown-phase", "30s");
        List<?> preStop = (List<?>) at(container, "lifecycle.preStop.exec.command");
        long pause = preStop == null
                ? 0
                : Long.parseLong(preStop.get(preStop.size() - 1).toString());

        long terminationGrace = ((Number) at(gateway, "spec.template.spec.terminationGracePeriodSeconds")).longValue();

        assertThat(gatewayConfig().get("server.shutdown")).isEqualTo("graceful");
        assertThat(terminationGrace)
                .isGreaterThan(pause + OpsFiles.duration(phase).toSeconds());
    }

    @Test
    void kedaScalesTheWorkerDeploymentOfItsPoolOnTheGatewaysQueueDepthAndOldestWaitFromPrometheus() {
        Map<String, Object> scaledObject = single("ScaledObject");
        Map<String, Map<String, Object>> triggers = triggersByName(scaledObject);
        String pool = string(single("ConfigMap"), "data.WORKER_POOL");
        String poolSelector = "pool=\"" + pool + "\"";
        int min = ((Number) at(scaledObject, "spec.minReplicaCount")).intValue();
        int max = ((Number) at(scaledObject, "spec.maxReplicaCount")).intValue();

        assertThat(string(scaledObject, "apiVersion")).startsWith("keda.sh/");
        assertThat(string(scaledObject, "spec.scaleTargetRef.kind")).isEqualTo("Deployment");
        assertThat(string(scaledObject, "spec.scaleTargetRef.name"))
                .isEqualTo(string(deployment("gpu-worker"), "metadata.name"));
        assertThat(map(deployment("gpu-worker"), "spec.template.metadata.labels"))
                .as("the worker pods' pool label")
                .containsEntry("forgequeue.io/pool", pool);
        assertThat(triggers).containsOnlyKeys("queue-depth", "oldest-wait");
        for (Map.Entry<String, Map<String, Object>> e : triggers.entrySet()) {
            Map<String, Object> trigger = e.getValue();
            String query = string(trigger, "metadata.query");
            assertThat(string(trigger, "type")).as("type of %s", e.getKey()).isEqualTo("prometheus");
            assertThat(query)
                    .as("query of %s selects the worker's pool", e.getKey())
                    .contains(poolSelector);
            assertThat(URI.create(string(trigger, "metadata.serverAddress")).getScheme())
                    .as("serverAddress")
                    .isIn("http", "https");
            assertThat(Double.parseDouble(string(trigger, "metadata.threshold")))
                    .as("threshold of %s", e.getKey())
                    .isPositive();
            assertThat(Double.parseDouble(string(trigger, "metadata.activationThreshold")))
                    .as("activationThreshold of %s", e.getKey())
                    .isNotNegative();
            // an empty answer (no gateway scraped) must be an error that holds the replicas, not a 0 that scales in
            assertThat(string(trigger, "metadata.ignoreNullValues"))
                    .as("ignoreNullValues of %s", e.getKey())
                    .isEqualTo("false");
        }
        assertThat(string(triggers.get("queue-depth"), "metadata.query"))
                .contains("gpu_gateway_jobs_by_state")
                .contains("queued")
                .contains("running");
        assertThat(string(triggers.get("queue-depth"), "metricType")).isEqualTo("AverageValue");
        assertThat(string(triggers.get("oldest-wait"), "metadata.query"))
                .contains("gpu_gateway_jobs_queue_oldest_seconds");
        assertThat(string(triggers.get("oldest-wait"), "metricType")).isEqualTo("Value");
        assertThat(min).isBetween(0, max);
        assertThat(max).isPositive();
        assertThat(at(deployment("gpu-worker"), "spec.replicas"))
                .as("replicas are KEDA's to set")
                .isNull();
    }

    /** One worker per job it can hold at once (running + lookahead), so at full load no job waits for a GPU. */
    @Test
    void theQueueDepthTriggerAsksForOneWorkerPerRunningJobAndItsLookahead() {
        Map<String, Object> depth = triggersByName(single("ScaledObject")).get("queue-depth");
        String source =
                OpsFiles.read("api-gateway/src/main/java/io/forgequeue/gateway/schedule/SchedulerProperties.java");
        Matcher lookahead = Pattern.compile("@DefaultValue\\(\"(\\d+)\"\\)\\s*@Min\\(0\\)\\s*int lookahead")
                .matcher(source);

        assertThat(lookahead.find())
                .as("SchedulerProperties.lookahead with its @DefaultValue")
                .isTrue();
        assertThat(Integer.parseInt(string(depth, "metadata.threshold")))
                .isEqualTo(1 + Integer.parseInt(lookahead.group(1)));
    }

    @Test
    void everyMetricTheKedaQueriesReadIsInTheMetricCatalogue() {
        Set<String> catalogue = OpsFiles.catalogue();
        Map<String, String> unknown = new LinkedHashMap<>();

        triggersByName(single("ScaledObject")).forEach((name, trigger) -> {
            Set<String> metrics = OpsFiles.metricNames(string(trigger, "metadata.query"));
            assertThat(metrics).as("metrics of %s", name).isNotEmpty();
            metrics.stream().filter(m -> !OpsFiles.isCatalogued(m, catalogue)).forEach(m -> unknown.put(m, name));
        });

        assertThat(unknown).as("metric -> trigger, not in docs/metrics.md").isEmpty();
    }

    /**
     * The triggers' queries on synthetic series as two gateway pods report them (with Kubernetes target labels, and
     * another pool beside): each answers one sample, the depth counts the pool's queued and running jobs once
     * however many gateways report them, the oldest wait is the largest any gateway saw. Needs promtool.
     */
    @Test
    void theKedaQueriesAnswerOneSampleCountingEveryJobOnceWhateverTheNumberOfGateways(@TempDir Path tmp)
            throws IOException {
        Map<String, Map<String, Object>> triggers = triggersByName(single("ScaledObject"));
        String pool = string(single("ConfigMap"), "data.WORKER_POOL");
        StringBuilder series = new StringBuilder();
        for (String gw : List.of("api-gateway-7d9-a", "api-gateway-7d9-b")) {
            String target = "job=\"api-gateway\",namespace=\"forge-queue\",pod=\"" + gw + "\",gateway=\"" + gw
                    + "\",application=\"api-gateway\",pool=\"";
            series.append(seriesLine("gpu_gateway_jobs_by_state", target + pool + "\",state=\"queued\"", "5"))
                    .append(seriesLine("gpu_gateway_jobs_by_state", target + pool + "\",state=\"running\"", "2"))
                    .append(seriesLine("gpu_gateway_jobs_by_state", target + "other-pool\",state=\"queued\"", "40"))
                    .append(seriesLine(
                            "gpu_gateway_jobs_queue_oldest_seconds",
                            target + pool + "\"",
                            gw.endsWith("a") ? "91" : "90"))
                    .append(seriesLine("gpu_gateway_jobs_queue_oldest_seconds", target + "other-pool\"", "900"));
        }
        String test = "rule_files: []\n"
                + "evaluation_interval: 1m\n"
                + "tests:\n"
                + "  - interval: 1m\n"
                + "    input_series:\n" + series
                + "    promql_expr_test:\n"
                + exprTest(string(triggers.get("queue-depth"), "metadata.query"), "7")
                + exprTest(string(triggers.get("oldest-wait"), "metadata.query"), "91");
        Files.writeString(tmp.resolve("keda-test.yml"), test);

        OpsFiles.Result result = OpsFiles.promtool(tmp, "test", "rules", "keda-test.yml");

        assertThat(result.exitCode())
                .as("promtool test rules on the KEDA queries:\n%s\n%s", result.output(), test)
                .isZero();
    }

    @Test
    void everyTriggerAuthenticationAScaledObjectNamesExists() {
        Set<String> authentications = new TreeSet<>();
        ofKind("TriggerAuthentication").forEach(t -> authentications.add(string(t, "metadata.name")));

        for (Map<String, Object> trigger : list(single("ScaledObject"), "spec.triggers")) {
            String ref = string(trigger, "authenticationRef.name");
            if (ref != null) {
                assertThat(authentications)
                        .as("TriggerAuthentication of trigger %s", trigger.get("name"))
                        .contains(ref);
            }
        }
    }

    @Test
    void everyEnvironmentVariableOfAnAppContainerIsOneTheAppReads() {
        Set<String> gatewayAllowed = allowedVariables("api-gateway/src/main/resources/application.yaml");
        Set<String> workerAllowed = allowedVariables("gpu-worker/src/main/resources/application.yml");

        assertThat(envNames(container(deployment("api-gateway"), "api-gateway")))
                .as("gateway env")
                .isNotEmpty()
                .isSubsetOf(gatewayAllowed);
        assertThat(envNames(container(deployment("gpu-worker"), "gpu-worker")))
                .as("worker env")
                .isNotEmpty()
                .isSubsetOf(workerAllowed);
    }

    @Test
    void everyConfigMapAndSecretReferenceNamesAKeyThatExists() {
        Map<String, Object> configMap = single("ConfigMap");
        String operatorSecret = string(single("RabbitmqCluster"), "metadata.name") + "-default-user";

        for (Map<String, Object> deployment : ofKind("Deployment")) {
            for (Map<String, Object> container : allContainers(deployment)) {
                for (Map<String, Object> env : list(container, "env")) {
                    String id = describe(deployment) + " " + env.get("name");
                    Map<String, Object> cm = map(env, "valueFrom.configMapKeyRef");
                    if (!cm.isEmpty()) {
                        assertThat(cm.get("name")).as(id).isEqualTo(string(configMap, "metadata.name"));
                        assertThat(map(configMap, "data"))
                                .as(id)
                                .containsKey(cm.get("key").toString());
                    }
                    Map<String, Object> secret = map(env, "valueFrom.secretKeyRef");
                    if (!secret.isEmpty()) {
                        String name = secret.get("name").toString();
                        String key = secret.get("key").toString();
                        if (name.equals(operatorSecret)) {
                            assertThat(OPERATOR_SECRET_KEYS).as(id).contains(key);
                        } else if (userSecrets().contains(name)) {
                            assertThat(USER_SECRET_KEYS).as(id).contains(key);
                        } else {
                            assertThat(map(exampleSecret(name), "stringData"))
                                    .as(id)
                                    .containsKey(key);
                        }
                    }
                }
            }
        }
    }

    @Test
    void noPodUsesTheBrokerAdministratorEachRoleConnectsWithItsOwnLeastPrivilegeUser() {
        String admin = string(single("RabbitmqCluster"), "metadata.name") + "-default-user";
        for (Map<String, Object> deployment : ofKind("Deployment")) {
            for (Map<String, Object> container : allContainers(deployment)) {
                for (Map<String, Object> env : list(container, "env")) {
                    assertThat(String.valueOf(map(env, "valueFrom.secretKeyRef").get("name")))
                            .as(describe(deployment) + " " + env.get("name"))
                            .isNotEqualTo(admin);
                }
            }
        }
        Map<String, Object> gateway = container(deployment("api-gateway"), "api-gateway");
        Map<String, Object> worker = container(deployment("gpu-worker"), "gpu-worker");
        assertThat(map(valueFrom(gateway, "SPRING_RABBITMQ_USERNAME"), "secretKeyRef")
                        .get("name"))
                .isEqualTo("forge-gateway-user-credentials");
        assertThat(map(valueFrom(worker, "SPRING_RABBITMQ_PASSWORD"), "secretKeyRef")
                        .get("name"))
                .isEqualTo("forge-worker-user-credentials");

        assertThat(permissions("forge-gateway")).isEqualTo(BrokerRoles.gateway());
        // the worker ids are the pod names of the Deployment gpu-worker
        assertThat(permissions("forge-worker"))
                .isEqualTo(BrokerRoles.workers(string(deployment("gpu-worker"), "metadata.name") + "-.+"));
        Map<String, Object> topic = ofKind("TopicPermission").stream()
                .filter(t -> "forge-worker".equals(string(t, "spec.userReference.name")))
                .findFirst()
                .orElseGet(() -> fail("no TopicPermission for forge-worker"));
        assertThat(string(topic, "spec.permissions.exchange")).isEqualTo(BrokerRoles.EVENTS_EXCHANGE);
        assertThat(string(topic, "spec.permissions.write")).isEqualTo(BrokerRoles.WORKER_TOPIC_WRITE);
        assertThat(string(topic, "spec.permissions.read")).isEqualTo(BrokerRoles.WORKER_TOPIC_READ);
    }

    @Test
    void rabbitMqIsAThreeNodeClusterOfTheOperatorAndPostgresAJdbcUrlFromASecret() {
        Map<String, Object> rabbit = single("RabbitmqCluster");
        Map<String, Object> gateway = container(deployment("api-gateway"), "api-gateway");
        Map<String, Object> dbUrl = map(valueFrom(gateway, "SPRING_DATASOURCE_URL"), "secretKeyRef");

        assertThat(string(rabbit, "apiVersion")).isEqualTo("rabbitmq.com/v1beta1");
        assertThat(at(rabbit, "spec.replicas")).isEqualTo(3);
        assertThat(dbUrl).as("SPRING_DATASOURCE_URL from a Secret").isNotEmpty();
        assertThat(string(exampleSecret(dbUrl.get("name").toString()), "stringData." + dbUrl.get("key")))
                .startsWith("jdbc:postgresql://");
        assertThat(envValueOrRef(container(deployment("gpu-worker"), "gpu-worker"), "SPRING_DATASOURCE_URL"))
                .as("the worker has no database")
                .isNull();
    }

    @Test
    void aDisruptionBudgetKeepsAGatewayAndTheServiceSelectsTheGatewayPods() {
        Map<String, Object> gateway = deployment("api-gateway");
        Map<String, Object> podLabels = map(gateway, "spec.template.metadata.labels");
        Map<String, Object> pdb = single("PodDisruptionBudget");
        Map<String, Object> service = single("Service");
        int minAvailable = ((Number) at(pdb, "spec.minAvailable")).intValue();

        assertThat(podLabels).containsAllEntriesOf(map(pdb, "spec.selector.matchLabels"));
        assertThat(minAvailable).isBetween(1, ((Number) at(gateway, "spec.replicas")).intValue() - 1);
        assertThat(podLabels).containsAllEntriesOf(map(service, "spec.selector"));
    }

    /** Issue 19: the actuator (health, metrics) is on the management port, which no Service routes. */
    @Test
    void theServiceRoutesOnlyTheGatewaysPublicPortNeverItsManagementPort() {
        Map<String, Object> container = container(deployment("api-gateway"), "api-gateway");
        Map<String, Object> service = single("Service");
        int port = Integer.parseInt(OpsFiles.defaultOf(gatewayConfig().get("server.port")));
        int management = ((Number) gatewayConfig().get("management.server.port")).intValue();

        assertThat(management).isNotEqualTo(port);
        List<Integer> routed = list(service, "spec.ports").stream()
                .map(p -> portNumber(container, p.get("targetPort")))
                .toList();
        assertThat(routed).containsExactly(port);
    }

    // ---- helpers ----------------------------------------------------------------------------------------------

    private static Map<String, Map<String, Object>> triggersByName(Map<String, Object> scaledObject) {
        Map<String, Map<String, Object>> byName = new LinkedHashMap<>();
        for (Map<String, Object> trigger : list(scaledObject, "spec.triggers")) {
            assertThat(string(trigger, "name"))
                    .as("every trigger has a name (it names its metric in KEDA)")
                    .isNotBlank();
            byName.put(string(trigger, "name"), trigger);
        }
        return byName;
    }

    private static String seriesLine(String metric, String labels, String value) {
        return "      - series: '" + metric + "{" + labels + "}'\n        values: '" + value + "+0x5'\n";
    }

    private static String exprTest(String query, String value) {
        return "      - expr: '" + query.replace("'", "''") + "'\n"
                + "        eval_time: 5m\n"
                + "        exp_samples:\n"
                + "          - labels: '{}'\n"
                + "            value: " + value + "\n";
    }

    private static List<Map<String, Object>> ofKind(String kind) {
        return objects.stream().filter(o -> kind.equals(o.get("kind"))).toList();
    }

    private static Map<String, Object> single(String kind) {
        List<Map<String, Object>> found = ofKind(kind);
        assertThat(found).as("objects of kind %s", kind).hasSize(1);
        return found.get(0);
    }

    private static Map<String, Object> deployment(String name) {
        return ofKind("Deployment").stream()
                .filter(d -> name.equals(string(d, "metadata.name")))
                .findFirst()
                .orElseGet(() -> fail("no Deployment " + name + " in " + DIR));
    }

    private static List<Map<String, Object>> allContainers(Map<String, Object> deployment) {
        List<Map<String, Object>> all = new ArrayList<>(list(deployment, "spec.template.spec.initContainers"));
        all.addAll(list(deployment, "spec.template.spec.containers"));
        return all;
    }

    private static Map<String, Object> container(Map<String, Object> deployment, String name) {
        return allContainers(deployment).stream()
                .filter(c -> name.equals(c.get("name")))
                .findFirst()
                .orElseGet(() -> fail("no container " + name + " in " + describe(deployment)));
    }

    /** The Secrets the Messaging Topology Operator generates for the Users of the manifests. */
    private static Set<String> userSecrets() {
        Set<String> names = new TreeSet<>();
        ofKind("User").forEach(u -> names.add(string(u, "metadata.name") + "-user-credentials"));
        return names;
    }

    /** The vhost permissions of a User, from its Permission resource. */
    private static BrokerRoles.Permissions permissions(String user) {
        Map<String, Object> p = ofKind("Permission").stream()
                .filter(o -> user.equals(string(o, "spec.userReference.name")))
                .findFirst()
                .orElseGet(() -> fail("no Permission for " + user));
        assertThat(string(p, "spec.vhost")).isEqualTo("/");
        return new BrokerRoles.Permissions(
                string(p, "spec.permissions.configure"),
                string(p, "spec.permissions.write"),
                string(p, "spec.permissions.read"));
    }

    private static Map<String, Object> exampleSecret(String name) {
        return objects.stream()
                .filter(o -> "Secret".equals(o.get("kind")) && name.equals(string(o, "metadata.name")))
                .findFirst()
                .orElseGet(() -> fail("no Secret " + name + " (secrets.example.yaml documents them)"));
    }

    private static Set<String> envNames(Map<String, Object> container) {
        Set<String> names = new TreeSet<>();
        list(container, "env").forEach(e -> names.add(e.get("name").toString()));
        assertThat(list(container, "envFrom"))
                .as("envFrom hides variable names; use env")
                .isEmpty();
        return names;
    }

    private static Map<String, Object> valueFrom(Map<String, Object> container, String name) {
        return list(container, "env").stream()
                .filter(e -> name.equals(e.get("name")))
                .findFirst()
                .map(e -> map(e, "valueFrom"))
                .orElseGet(() -> fail("no env " + name + " in " + container.get("name")));
    }

    private static String envValue(Map<String, Object> container, String name) {
        return list(container, "env").stream()
                .filter(e -> name.equals(e.get("name")))
                .findFirst()
                .map(e -> string(e, "value"))
                .orElseGet(() -> fail("no env " + name + " in " + container.get("name")));
    }

    private static Object envValueOrRef(Map<String, Object> container, String name) {
        return list(container, "env").stream()
                .filter(e -> name.equals(e.get("name")))
                .findFirst()
                .map(e -> (Object) e)
                .orElse(null);
    }

    private static Object envOr(Map<String, Object> container, String name, Object fallback) {
        return list(container, "env").stream()
                .filter(e -> name.equals(e.get("name")) && e.get("value") != null)
                .findFirst()
                .map(e -> e.get("value"))
                .orElse(fallback);
    }

    private static void assertProbe(Map<String, Object> container, String probe, String path, int port) {
        Map<String, Object> http = map(container, probe + ".httpGet");
        assertThat(http.get("path"))
                .as("%s path of %s", probe, container.get("name"))
                .isEqualTo(path);
        assertThat(portNumber(container, http.get("port"))).as("%s port", probe).isEqualTo(port);
    }

    private static void assertScrapeAnnotations(Map<String, Object> deployment, int port) {
        Map<String, Object> annotations = map(deployment, "spec.template.metadata.annotations");
        assertThat(annotations)
                .as("scrape annotations of %s", describe(deployment))
                .containsEntry("prometheus.io/scrape", "true")
                .containsEntry("prometheus.io/port", Integer.toString(port))
                .containsEntry("prometheus.io/path", "/actuator/prometheus");
    }

    /** A probe port is a number or the name of one of the container's ports. */
    private static int portNumber(Map<String, Object> container, Object port) {
        if (port instanceof Number n) {
            return n.intValue();
        }
        return list(container, "ports").stream()
                .filter(p -> String.valueOf(port).equals(p.get("name")))
                .map(p -> ((Number) p.get("containerPort")).intValue())
                .findFirst()
                .orElseGet(() -> fail("no port named " + port + " in " + container.get("name")));
    }

    private static Map<String, Object> gatewayConfig() {
        return OpsFiles.flatten(OpsFiles.yamlFile("api-gateway/src/main/resources/application.yaml"));
    }

    private static Map<String, Object> workerConfig() {
        return OpsFiles.flatten(OpsFiles.yamlFile("gpu-worker/src/main/resources/application.yml"));
    }

    /**
     * What an app reads from the environment: the ${NAME} placeholders of its application.yml, the env form of
     * every property it sets there (relaxed binding), and the JVM's own variables.
     */
    private static Set<String> allowedVariables(String applicationYml) {
        Set<String> allowed = new TreeSet<>(JVM_VARIABLES);
        allowed.addAll(BOOT_RABBIT_VARIABLES);
        allowed.addAll(OpsFiles.placeholders(OpsFiles.read(applicationYml)));
        for (String property :
                OpsFiles.flatten(OpsFiles.yamlFile(applicationYml)).keySet()) {
            allowed.addAll(OpsFiles.envNamesOf(property));
        }
        return allowed;
    }

    private static String describe(Map<String, Object> object) {
        return object.get("kind") + "/" + string(object, "metadata.name");
    }
}
