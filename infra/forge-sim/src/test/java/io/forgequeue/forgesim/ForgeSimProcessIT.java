package io.forgequeue.forgesim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * forge-sim as a real OS process through {@link ForgeSimProcess}, the way other modules' tests use it. Run by
 * Failsafe after packaging, so the child runs from the shaded jar when Failsafe puts that jar on the classpath.
 */
class ForgeSimProcessIT {

    @Test
    void startsAsASeparateProcessServesForgesApiAndDiesOnKill(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("forge-sim.log");
        long start = System.nanoTime();
        ForgeSimProcess sim = ForgeSimProcess.builder()
                .args("--step-ms", "0", "--model-load-ms", "0", "--api-auth", "u:p")
                .echoOutput(false)
                .logTo(log)
                .start();
        long startupMs = (System.nanoTime() - start) / 1_000_000;
        System.out.println("forge-sim process ready in " + startupMs + " ms (pid " + sim.pid() + ", classpath "
                + ForgeSimProcess.defaultClasspath().split(java.io.File.pathSeparator)[0] + ")");
        try {
            SimClient forge = new SimClient(sim.baseUrl()).withBasicAuth("u", "p");

            SimClient.Reply reply = forge.txt2img(
                    "{\"prompt\":\"from another process\",\"steps\":3,\"width\":64,\"height\":64,\"seed\":1}");

            assertThat(sim.pid()).isNotEqualTo(ProcessHandle.current().pid());
            assertThat(sim.apiPort()).isPositive().isNotEqualTo(sim.adminPort());
            assertThat(reply.status()).isEqualTo(200);
            assertThat(reply.image(0).getWidth()).isEqualTo(64);
            assertThat(new SimClient(sim.baseUrl()).get("/sdapi/v1/progress").status())
                    .isEqualTo(401);
            assertThat(sim.admin().stats().calls().completed()).isEqualTo(1);
            sim.admin().failNextWithOutOfMemory(1);
            assertThat(forge.txt2img("{\"steps\":1}").json().get("error").stringValue())
                    .isEqualTo("OutOfMemoryError");
            assertThat(sim.recentOutput()).anyMatch(line -> line.startsWith(ForgeSimMain.LISTENING_PREFIX));
            assertThat(Files.readString(log))
                    .as("the child's output, in the log file (written before start() returns)")
                    .contains(ForgeSimMain.LISTENING_PREFIX);

            sim.kill();

            assertThat(sim.isAlive()).isFalse();
            assertThatThrownBy(() -> forge.get("/sdapi/v1/progress"))
                    .isInstanceOf(UncheckedIOException.class)
                    .hasCauseInstanceOf(ConnectException.class);
        } finally {
            sim.close();
        }
    }

    @Test
    void stopsGracefullyOnCloseAndCanBeRestartedOnTheSamePort() throws Exception {
        int port;
        try (ForgeSimProcess first = ForgeSimProcess.builder()
                .args("--step-ms", "0")
                .echoOutput(false)
                .startupTimeout(Duration.ofSeconds(30))
                .start()) {
            port = first.apiPort();
            assertThat(new SimClient(first.baseUrl()).get("/internal/ping").text())
                    .isEqualTo("{}");
            first.close();
            assertThat(first.isAlive()).isFalse();
        }

        try (ForgeSimProcess second = ForgeSimProcess.builder()
                .args("--port", String.valueOf(port), "--admin-port", "0")
                .echoOutput(false)
                .start()) {
            assertThat(second.apiPort()).isEqualTo(port);
            assertThat(new SimClient(second.baseUrl()).get("/internal/ping").status())
                    .isEqualTo(200);
        }
    }

    @Test
    void reportsAFailedStartWithTheProcessOutput() {
        assertThatThrownBy(() -> ForgeSimProcess.builder()
                        .args("--api-auth", "a:b:c")
                        .echoOutput(false)
                        .start())
                .isInstanceOf(java.io.IOException.class)
                .hasMessageContaining("did not start")
                .hasMessageContaining("too many values");
    }
}
