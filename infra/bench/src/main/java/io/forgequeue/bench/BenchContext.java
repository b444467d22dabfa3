package io.forgequeue.bench;

import java.nio.file.Path;
import java.util.List;

/** What every scenario needs: the options, the servers, the run's folders. */
record BenchContext(BenchOptions options, BenchServers servers, RabbitAdmin rabbitAdmin, Path outDir, Path logDir) {

    /** JVM flags that record a JFR profile of one app when {@code --profile} is on. */
    List<String> profilingArgs(String name) {
        if (!options.profile()) {
            return List.of();
        }
        Path jfr = BenchPaths.createDirectories(outDir.resolve("jfr")).resolve(name + ".jfr");
        return List.of(
                "-XX:StartFlightRecording=filename=" + jfr + ",settings=" + options.jfrSettings() + ",dumponexit=true");
    }
}
