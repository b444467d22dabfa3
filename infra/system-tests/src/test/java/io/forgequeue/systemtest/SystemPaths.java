package io.forgequeue.systemtest;

import io.forgequeue.testsupport.TestInfrastructure;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Where the packaged apps and the test artifacts (logs, screenshots) are. */
final class SystemPaths {

    private SystemPaths() {}

    /** The repository root (see {@code TestInfrastructure.repositoryRoot()}). */
    static Path root() {
        return TestInfrastructure.repositoryRoot();
    }

    static Path gatewayJar() {
        return stableCopy(root().resolve("api-gateway/target/api-gateway-0.1.0-SNAPSHOT.jar"));
    }

    static Path workerJar() {
        return stableCopy(root().resolve("gpu-worker/target/gpu-worker-0.1.0-SNAPSHOT.jar"));
    }

    /**
     * A private copy of a packaged app under {@code target/app-jars/}, named after the original's size and time, so
     * that the processes of a test run keep running from the same bytes even when the module is rebuilt meanwhile (a
     * running Spring Boot jar whose file is replaced fails with NoClassDefFoundError on its next class load). The copy
     * is checked to be a readable zip (a jar being written at that moment is retried). Returns the original when it
     * does not exist (the caller reports it).
     */
    static synchronized Path stableCopy(Path jar) {
        if (!Files.isRegularFile(jar)) {
            return jar;
        }
        for (int attempt = 1; ; attempt++) {
            try {
                long size = Files.size(jar);
                long modified = Files.getLastModifiedTime(jar).toMillis();
                String name =
                        jar.getFileName().toString().replaceFirst("\\.jar$", "") + "-" + modified + "-" + size + ".jar";
                Path copy = artifactDir("app-jars").resolve(name);
                if (!Files.isRegularFile(copy)) {
                    Path partial = Files.createTempFile(copy.getParent(), name, ".part");
                    Files.copy(jar, partial, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                    try (java.util.zip.ZipFile zip = new java.util.zip.ZipFile(partial.toFile())) {
                        if (zip.size() == 0 || Files.size(partial) != size) {
                            throw new IOException("incomplete copy");
                        }
                    } catch (IOException e) {
                        Files.deleteIfExists(partial);
                        throw e;
                    }
                    Files.move(partial, copy, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
                    removeOldCopies(copy.getParent());
                }
                return copy;
            } catch (IOException e) {
                if (attempt >= 10) {
                    throw new UncheckedIOException("could not copy " + jar + " (is it being rebuilt?)", e);
                }
                try {
                    Thread.sleep(1000);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException(ie);
                }
            }
        }
    }

    /** Copies older than two hours: no test JVM still starts processes from them. */
    private static void removeOldCopies(Path dir) {
        long cutoff = System.currentTimeMillis() - 2 * 3600_000L;
        try (var files = Files.list(dir)) {
            for (Path p : files.toList()) {
                if (Files.getLastModifiedTime(p).toMillis() < cutoff) {
                    Files.deleteIfExists(p);
                }
            }
        } catch (IOException e) {
            // best effort
        }
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
