package io.forgequeue.systemtest.ops;

import static io.forgequeue.systemtest.ops.ImageDefinitions.APP_MODULES;
import static io.forgequeue.systemtest.ops.OpsFiles.list;
import static io.forgequeue.systemtest.ops.OpsFiles.map;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The container images of the gateway, the worker and forge-sim, as the build defines them (jib-maven-plugin in the
 * POMs; docs/operating.md, "Images"). Every {@code package} builds each of them offline onto a stand-in base image
 * into {@code target/image-check/image.tar}; this test opens those archives. Each image runs its runnable jar's main
 * class with an exec-form {@code java} entrypoint (java is PID 1 and gets SIGTERM), as the non-root user the
 * Kubernetes manifests require, exposes the port its app listens on, keeps third-party dependencies, project modules,
 * resources and classes in separate layers, sizes the heap from the container's memory limit, and is labelled with
 * its version, source and base.
 *
 * <p>Not checked here, because no registry can be reached from our build machines: pulling the real base
 * (eclipse-temurin) and pushing ({@code jib:build}).
 */
class ContainerImagesTest {

    /** The file Jib writes the classpath into; the entrypoint reads it ({@code java -cp @file}). */
    private static final String CLASSPATH_FILE = "/app/jib-classpath-file";

    /** In the runnable Boot jar but not on the app's classpath (Boot adds it for -Djarmode=tools). */
    private static final Pattern BOOT_ONLY_LIBRARY = Pattern.compile("spring-boot-jarmode-tools-.*\\.jar");

    private static final Map<String, ImageArchive> images = new LinkedHashMap<>();

    @BeforeAll
    static void openTheImagesThePackagePhaseBuilt() {
        for (String artifactId : APP_MODULES.keySet()) {
            Path tar = ImageDefinitions.checkImage(artifactId);
            Path jar = ImageDefinitions.runnableJar(artifactId);
            if (!Files.isRegularFile(tar) || !Files.isRegularFile(jar)) {
                fail(tar + " or " + jar + " is missing. The image check is built by the package phase of "
                        + APP_MODULES.get(artifactId) + " (not with -DskipTests): run ./mvnw -pl infra/system-tests "
                        + "-am verify -Dtest=ContainerImagesTest -Dsurefire.failIfNoSpecifiedTests=false "
                        + "-Dit.test=NoneIT -Dfailsafe.failIfNoSpecifiedTests=false");
            }
            if (lastModified(tar) < lastModified(jar)) {
                fail(tar + " is older than " + jar + ": the jar was packaged again without the image check "
                        + "(-DskipTests?). Package " + APP_MODULES.get(artifactId) + " again without -DskipTests.");
            }
            images.put(artifactId, ImageArchive.read(tar));
        }
    }

    @Test
    void exactlyTheGatewayTheWorkerAndForgeSimBuildImages() {
        Set<String> building = new TreeSet<>();

        for (String module : ImageDefinitions.modules()) {
            if ("false".equals(ImageDefinitions.moduleProperty(module, "image.skip"))) {
                building.add(module);
            }
        }

        assertThat(ImageDefinitions.rootProperty("image.skip"))
                .as("image.skip in the root pom.xml")
                .isEqualTo("true");
        assertThat(building).isEqualTo(new TreeSet<>(APP_MODULES.values()));
    }

    @Test
    void eachImageIsNamedInTheRegistryAfterItsModuleAndTaggedWithTheProjectVersion() {
        String version = ImageDefinitions.projectVersion();

        images.forEach((artifactId, image) -> {
            String reference = ImageDefinitions.reference(artifactId);
            assertThat(reference)
                    .as("image name of %s", artifactId)
                    .isEqualTo(ImageDefinitions.rootProperty("image.registry") + "/" + artifactId + ":" + version);
            assertThat(image.repoTags())
                    .as("tags of the built %s image", artifactId)
                    .containsExactly(reference);
        });
    }

    @Test
    void eachImageStartsTheMainClassOfItsRunnableJarWithJavaAsTheContainersOwnProcess() {
        images.forEach((artifactId, image) -> {
            List<String> entrypoint = image.strings("Entrypoint");
            String mainClass = mainClassOfRunnableJar(artifactId);

            // exec form: java itself is PID 1 (no shell in between) and receives SIGTERM from docker stop / the kubelet
            assertThat(entrypoint).as("entrypoint of %s", artifactId).isNotEmpty();
            assertThat(entrypoint.get(0)).as("entrypoint of %s", artifactId).isEqualTo("java");
            assertThat(entrypoint)
                    .as("entrypoint of %s", artifactId)
                    .doesNotContain("sh", "/bin/sh", "bash", "-c")
                    .containsSubsequence("-cp", "@" + CLASSPATH_FILE)
                    .endsWith(mainClass);
            assertThat(image.strings("Cmd")).as("arguments of %s", artifactId).isEmpty();
            assertThat(image.text("app/jib-main-class-file").trim()).isEqualTo(mainClass);
            assertThat(image.layer("classes").files())
                    .as("classes layer of %s", artifactId)
                    .contains("app/classes/" + mainClass.replace('.', '/') + ".class");
            // "java" is found through the base image's PATH, which the image keeps
            Map<String, String> env = image.env();
            assertThat(env).as("environment of %s", artifactId).containsKeys("PATH", "JAVA_HOME");
            assertThat(env.get("PATH").split(":")).contains(env.get("JAVA_HOME") + "/bin");
        });
    }

    @Test
    void theClasspathOfEachImageHoldsItsClassesAndEveryLibraryOfItsRunnableJar() {
        images.forEach((artifactId, image) -> {
            Set<String> files = image.files();
            List<String> classpath =
                    List.of(image.text(CLASSPATH_FILE.substring(1)).trim().split(":"));
            Set<String> libraries = new TreeSet<>();
            for (String file : files) {
                if (file.startsWith("app/libs/")) {
                    libraries.add(file.substring("app/libs/".length()));
                }
            }

            assertThat(classpath).as("classpath of %s", artifactId).startsWith("/app/resources", "/app/classes");
            for (String element : classpath) {
                assertThat(image.has(element.substring(1)))
                        .as("%s (classpath of %s) is in the image", element, artifactId)
                        .isTrue();
            }
            assertThat(classpath.stream()
                            .filter(e -> e.startsWith("/app/libs/"))
                            .map(e -> e.substring(10))
                            .toList())
                    .as("libraries on the classpath of %s", artifactId)
                    .containsExactlyInAnyOrderElementsOf(libraries);
            assertThat(libraries).as("libraries of %s", artifactId).containsAll(librariesOfRunnableJar(artifactId));
        });
        assertThat(images.get("forge-sim").files()).anyMatch(f -> f.matches("app/libs/jackson-databind-.*\\.jar"));
    }

    @Test
    void dependenciesProjectModulesResourcesAndClassesAreSeparateLayersAfterTheBase() {
        images.forEach((artifactId, image) -> {
            List<String> comments =
                    image.layers().stream().map(ImageArchive.Layer::comment).toList();
            Set<String> dependencies = image.layer("dependencies").files();
            Set<String> classes = image.layer("classes").files();

            // the stand-in base comes first, then Jib's layers, least often changed first
            assertThat(image.layers().get(0).files())
                    .as("base layer of %s", artifactId)
                    .contains("opt/java/openjdk/bin/java");
            assertThat(comments)
                    .as("layers of %s", artifactId)
                    .containsSubsequence("dependencies", "resources", "classes");
            assertThat(dependencies)
                    .as("dependencies layer of %s", artifactId)
                    .isNotEmpty()
                    .allMatch(f -> f.startsWith("app/libs/") && f.endsWith(".jar"))
                    .noneMatch(f -> f.contains("SNAPSHOT"));
            assertThat(classes)
                    .as("classes layer of %s", artifactId)
                    .isNotEmpty()
                    .allMatch(f -> f.startsWith("app/classes/"));
            assertThat(image.layer("resources").files()).allMatch(f -> f.startsWith("app/resources/"));
        });
        for (String app : List.of("api-gateway", "gpu-worker")) {
            ImageArchive image = images.get(app);
            String commonModel = "app/libs/common-model-" + ImageDefinitions.projectVersion() + ".jar";

            assertThat(image.layer("project dependencies").files())
                    .as("project dependencies layer of %s", app)
                    .containsExactly(commonModel);
            assertThat(image.layer("resources").files())
                    .as("resources layer of %s", app)
                    .anyMatch(f -> f.matches("app/resources/application\\.ya?ml"));
        }
    }

    @Test
    void eachImageExposesThePortItsAppListensOn() {
        String gatewayPort = OpsFiles.defaultOf(
                OpsFiles.flatten(OpsFiles.yamlFile("api-gateway/src/main/resources/application.yaml"))
                        .get("server.port"));
        String workerPort =
                String.valueOf(OpsFiles.flatten(OpsFiles.yamlFile("gpu-worker/src/main/resources/application.yml"))
                        .get("server.port"));
        ImageArchive forgeSim = images.get("forge-sim");

        String gatewayManagement =
                String.valueOf(OpsFiles.flatten(OpsFiles.yamlFile("api-gateway/src/main/resources/application.yaml"))
                        .get("management.server.port"));
        assertThat(exposedPorts("api-gateway"))
                .containsExactlyInAnyOrder(gatewayPort + "/tcp", gatewayManagement + "/tcp");
        assertThat(exposedPorts("gpu-worker")).as("the worker's actuator").containsExactly(workerPort + "/tcp");
        // forge-sim: Forge API and admin API (port + 1), on all interfaces (the default 127.0.0.1 is unreachable
        // from outside the container)
        assertThat(forgeSim.env()).containsEntry("FORGE_SIM_LISTEN", "true").containsEntry("FORGE_SIM_PORT", "7861");
        assertThat(exposedPorts("forge-sim")).containsExactlyInAnyOrder("7861/tcp", "7862/tcp");
    }

    @Test
    void eachImageRunsAsTheNonRootUserTheKubernetesManifestsRequire() {
        Map<String, Object> gateway = deployment("api-gateway");
        Map<String, Object> worker = deployment("gpu-worker");
        String gatewayUser = runAs(map(gateway, "spec.template.spec.securityContext"));
        String workerUser = runAs(map(container(worker, "gpu-worker"), "securityContext"));

        images.forEach((artifactId, image) -> {
            String user = String.valueOf(image.config().get("User"));
            assertThat(user)
                    .as("user of %s (numeric, so runAsNonRoot can verify it)", artifactId)
                    .matches("[1-9][0-9]*:[0-9]+");
        });
        assertThat(images.get("api-gateway").config().get("User")).isEqualTo(gatewayUser);
        assertThat(images.get("gpu-worker").config().get("User")).isEqualTo(workerUser);
    }

    @Test
    void theJvmSizesItsHeapFromTheContainersMemoryLimitAndExitsOnOutOfMemory() {
        Pattern percentage = Pattern.compile("-XX:MaxRAMPercentage=(\\d+(?:\\.\\d+)?)");

        images.forEach((artifactId, image) -> {
            String options = image.env().get("JAVA_TOOL_OPTIONS");
            assertThat(options)
                    .as("JAVA_TOOL_OPTIONS of %s", artifactId)
                    .isNotNull()
                    .contains("-XX:+ExitOnOutOfMemoryError");
            Matcher m = percentage.matcher(options);
            assertThat(m.find()).as("-XX:MaxRAMPercentage in %s", options).isTrue();
            assertThat(Double.parseDouble(m.group(1)))
                    .as("heap share of the memory limit")
                    .isBetween(50.0, 85.0);
        });
    }

    @Test
    void theSpringAppsWriteJsonLogLinesInTheContainer() {
        for (String app : List.of("api-gateway", "gpu-worker")) {
            Map<String, String> env = images.get(app).env();

            assertThat(env.get("LOGGING_STRUCTURED_FORMAT_CONSOLE"))
                    .as("log format of %s", app)
                    .isEqualTo("ecs");
            // the classes run from /app/classes, so no jar manifest gives Boot the version for the log lines
            assertThat(env).containsEntry("LOGGING_STRUCTURED_ECS_SERVICE_VERSION", ImageDefinitions.projectVersion());
        }
    }

    @Test
    void eachImageIsLabelledWithItsTitleVersionSourceAndBase() {
        String version = ImageDefinitions.projectVersion();

        images.forEach((artifactId, image) -> {
            Map<String, Object> labels = map(image.config(), "Labels");
            assertThat(labels)
                    .as("labels of %s", artifactId)
                    .containsEntry("org.opencontainers.image.title", artifactId)
                    .containsEntry("org.opencontainers.image.version", version)
                    .containsEntry("org.opencontainers.image.source", ImageDefinitions.rootProperty("image.source"))
                    .containsEntry("org.opencontainers.image.base.name", ImageDefinitions.rootProperty("image.base"));
        });
        // the production base: a Java 17 runtime (JRE, not a JDK) of the eclipse-temurin images
        assertThat(ImageDefinitions.rootProperty("image.base")).matches("eclipse-temurin:17[.0-9_]*-jre.*");
        assertThat(ImageDefinitions.jibSetting("from", "image")).isEqualTo("${image.base}");
    }

    // ---- helpers ----------------------------------------------------------------------------------------------

    private static long lastModified(Path file) {
        try {
            return Files.getLastModifiedTime(file).toMillis();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** What java -jar runs: Boot's Start-Class, or the plain jar's Main-Class. */
    private static String mainClassOfRunnableJar(String artifactId) {
        try (JarFile jar = new JarFile(ImageDefinitions.runnableJar(artifactId).toFile())) {
            var attributes = jar.getManifest().getMainAttributes();
            String start = attributes.getValue("Start-Class");
            return start != null ? start : attributes.getValue("Main-Class");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The file names of BOOT-INF/lib/ in a Boot jar (none for forge-sim's shaded jar), less Boot's own tools. */
    private static Set<String> librariesOfRunnableJar(String artifactId) {
        Set<String> libraries = new TreeSet<>();
        try (JarFile jar = new JarFile(ImageDefinitions.runnableJar(artifactId).toFile())) {
            jar.stream()
                    .map(e -> e.getName())
                    .filter(n -> n.startsWith("BOOT-INF/lib/") && n.endsWith(".jar"))
                    .map(n -> n.substring("BOOT-INF/lib/".length()))
                    .filter(n -> !BOOT_ONLY_LIBRARY.matcher(n).matches())
                    .forEach(libraries::add);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return libraries;
    }

    private static Set<String> exposedPorts(String artifactId) {
        return new TreeSet<>(
                map(images.get(artifactId).config(), "ExposedPorts").keySet());
    }

    private static Map<String, Object> deployment(String name) {
        try (Stream<Path> files = Files.list(OpsFiles.path("infra/k8s"))) {
            return files.filter(f -> f.toString().endsWith(".yaml"))
                    .sorted()
                    .flatMap(f -> OpsFiles.yamlDocuments(f).stream())
                    .filter(d -> "Deployment".equals(d.get("kind")) && name.equals(OpsFiles.string(d, "metadata.name")))
                    .findFirst()
                    .orElseGet(() -> fail("no Deployment " + name + " in infra/k8s/"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Map<String, Object> container(Map<String, Object> deployment, String name) {
        List<Map<String, Object>> all = new ArrayList<>(list(deployment, "spec.template.spec.initContainers"));
        all.addAll(list(deployment, "spec.template.spec.containers"));
        return all.stream()
                .filter(c -> name.equals(c.get("name")))
                .findFirst()
                .orElseGet(() -> fail("no container " + name));
    }

    /** "runAsUser:runAsGroup" of a securityContext. */
    private static String runAs(Map<String, Object> securityContext) {
        assertThat(securityContext).containsEntry("runAsNonRoot", true).containsKeys("runAsUser", "runAsGroup");
        return securityContext.get("runAsUser") + ":" + securityContext.get("runAsGroup");
    }
}
