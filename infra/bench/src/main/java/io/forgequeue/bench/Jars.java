package io.forgequeue.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The two app jars one run of a scenario starts: the current build, or a saved earlier build (a baseline) to
 * compare with in the same run.
 *
 * @param label   "current" or "baseline"
 * @param gateway the api-gateway jar
 * @param worker  the gpu-worker jar
 */
record Jars(String label, Path gateway, Path worker) {

    static final String GATEWAY_JAR = "api-gateway-0.1.0-SNAPSHOT.jar";
    static final String WORKER_JAR = "gpu-worker-0.1.0-SNAPSHOT.jar";

    Jars {
        for (Path jar : new Path[] {gateway, worker}) {
            if (!Files.isRegularFile(jar)) {
                throw new IllegalStateException(jar + " is missing: build the apps first (infra/bench/run.sh does)");
            }
        }
    }

    /** The jars of the current build (api-gateway/target, gpu-worker/target). */
    static Jars current(Path root) {
        return new Jars(
                "current",
                root.resolve("api-gateway/target").resolve(GATEWAY_JAR),
                root.resolve("gpu-worker/target").resolve(WORKER_JAR));
    }

    /**
     * A private copy of these jars in {@code dir}, taken once at the start of a run: other people rebuilding
     * the modules' {@code target} folders while the benchmark runs (a shared machine) must not swap a jar under a starting JVM.
     */
    Jars snapshot(Path dir) {
        try {
            Files.createDirectories(dir);
            Files.copy(gateway, dir.resolve(GATEWAY_JAR), StandardCopyOption.REPLACE_EXISTING);
            Files.copy(worker, dir.resolve(WORKER_JAR), StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("could not copy the jars to " + dir, e);
        }
        return in(label, dir);
    }

    /** Jars saved in one folder (e.g. copied from an earlier build with {@code run.sh --save-baseline}). */
    static Jars in(String label, Path dir) {
        return new Jars(label, dir.resolve(GATEWAY_JAR), dir.resolve(WORKER_JAR));
    }
}
