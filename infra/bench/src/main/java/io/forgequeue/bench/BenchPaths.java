package io.forgequeue.bench;

import io.forgequeue.testsupport.TestInfrastructure;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Where the repository, the packaged apps and the results are. */
final class BenchPaths {

    private BenchPaths() {}

    /** The repository root (see {@code TestInfrastructure.repositoryRoot()}). */
    static Path root() {
        return TestInfrastructure.repositoryRoot();
    }

    static Path createDirectories(Path dir) {
        try {
            return Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
