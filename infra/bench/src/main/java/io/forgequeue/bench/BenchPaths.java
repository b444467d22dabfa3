package io.forgequeue.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Where the repository, the packaged apps and the results are. */
final class BenchPaths {

    private BenchPaths() {
    }

    /** The repository root: system property {@code forgequeue.root}, else the nearest folder above holding infra/local. */
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
            throw new IllegalStateException("cannot find the repository root (no infra/local above "
                    + Path.of("").toAbsolutePath() + "); set -Dforgequeue.root");
        }
        return p;
    }

    static Path createDirectories(Path dir) {
        try {
            return Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
