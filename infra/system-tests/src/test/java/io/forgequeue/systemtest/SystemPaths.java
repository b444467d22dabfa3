package io.forgequeue.systemtest;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Where the packaged apps and the test artifacts (logs, screenshots) are. */
final class SystemPaths {

    private SystemPaths() {
    }

    /** The repository root: system property {@code forgequeue.root}, else found by walking up. */
    static Path root() {
        String prop = System.getProperty("forgequeue.root");
        if (prop != null && Files.isDirectory(Path.of(prop, "infra", "local"))) {
            return Path.of(prop).toAbsolutePath();
        }
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.isDirectory(p.resolve("infra").resolve("local"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("cannot find the repository root (no infra/local above " + Path.of("").toAbsolutePath() + ")");
        }
        return p;
    }

    static Path gatewayJar() {
        return root().resolve("api-gateway/target/api-gateway-0.1.0-SNAPSHOT.jar");
    }

    static Path workerJar() {
        return root().resolve("gpu-worker/target/gpu-worker-0.1.0-SNAPSHOT.jar");
    }

    /** {@code infra/system-tests/target/system-test-logs}, created on first use. */
    static Path logDir() {
        return artifactDir("system-test-logs");
    }

    static Path artifactDir(String name) {
        Path dir = root().resolve("infra/system-tests/target").resolve(name);
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return dir;
    }
}
