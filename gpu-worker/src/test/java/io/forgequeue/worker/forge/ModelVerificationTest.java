package io.forgequeue.worker.forge;

import static io.forgequeue.model.fixtures.JobSpecBuilder.aSpec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.failsafe.CircuitBreaker;
import io.forgequeue.forgesim.ForgeSimAdmin;
import io.forgequeue.forgesim.ForgeSimServer;
import io.forgequeue.forgesim.SimConfig;
import io.forgequeue.model.JobSpec;
import io.forgequeue.worker.system.WireJson;
import io.forgequeue.worker.system.WorkerMetrics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 17 against an in-process forge-sim offering two checkpoints, "a" and "sub/b" (model names {@code a} and
 * {@code sub_b}): the model that ran is verified (the sim's "ignore override" fault runs the loaded model instead of
 * the requested one and says so), and the offer carries the loaded checkpoint, the speed and the load times measured
 * from the calls.
 */
class ModelVerificationTest {

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private ForgeSimServer sim;
    private ForgeSimAdmin admin;
    private ForgeClient forge;

    @AfterEach
    void stop() {
        if (sim != null) {
            sim.close();
        }
    }

    private void start(String... simFlags) throws Exception {
        String[] args = new String[simFlags.length + 4];
        System.arraycopy(new String[] {"--port", "0", "--models", "a.safetensors,sub/b.ckpt"}, 0, args, 0, 4);
        System.arraycopy(simFlags, 0, args, 4, simFlags.length);
        sim = ForgeSimServer.start(SimConfig.fromArgs(args));
        admin = new ForgeSimAdmin(sim.adminUrl());
        ForgeProperties props = new ForgeProperties(
                sim.baseUrl(),
                null,
                null,
                Duration.ofMillis(500),
                Duration.ofSeconds(10),
                Duration.ofSeconds(2),
                Duration.ofSeconds(5),
                Duration.ofSeconds(30),
                new ForgeProperties.Retry(
                        2,
                        Duration.ofMillis(10),
                        Duration.ofMillis(40),
                        0.1,
                        Duration.ofMillis(10),
                        Duration.ofMillis(40)),
                new ForgeProperties.Breaker(5, Duration.ofSeconds(30), 1, Duration.ofMillis(50)),
                null);
        WorkerMetrics metrics = new WorkerMetrics(registry);
        ForgeConfiguration config = new ForgeConfiguration();
        CircuitBreaker<Object> breaker = config.forgeCircuitBreaker(props, metrics);
        forge = config.forgeClient(
                props,
                new WireJson(),
                metrics,
                config.forgeOutageRetry(props, metrics),
                config.forgeFailureRetry(props, metrics),
                breaker,
                config.forgeCallTimeout(props),
                ModelProperties.defaults(),
                null);
    }

    /**
     * Reads Forge's lists as the worker's announcer does before its first offer. A test that leaves them to the first
     * job's lazy check has no offer for 30 s when that one read fails (it did once, on a loaded machine).
     */
    private void readForgeLists() {
        await().atMost(Duration.ofSeconds(30)).until(forge::refreshCatalog);
    }

    private static JobSpec on(String checkpoint) {
        return aSpec().size(64, 64).steps(4).seed(5).checkpoint(checkpoint).build();
    }

    private Txt2ImgResult generate(JobSpec spec) {
        return forge.generate(UUID.randomUUID(), spec, () -> false);
    }

    private double mismatches(String outcome) {
        return registry.get("gpu.worker.model.mismatch")
                .tag("outcome", outcome)
                .counter()
                .count();
    }

    @Test
    void deliversTheImagesWhenTheRequestedCheckpointRan() throws Exception {
        start("--step-ms", "0", "--model-load-ms", "0");

        Txt2ImgResult result = generate(on("sub/b.ckpt"));

        assertThat(result.images()).hasSize(1);
        assertThat(result.metadata()).containsEntry("sdModelName", "b").containsEntry("modelVerified", true);
        assertThat(admin.stats().calls().received()).isEqualTo(1);
        assertThat(mismatches("retried") + mismatches("failed")).isZero();
    }

    @Test
    void asksForgeToLoadTheRequestedModelAfterAMismatchAndDeliversTheRetriedMatch() throws Exception {
        start("--step-ms", "0", "--model-load-ms", "0");
        readForgeLists();
        generate(on("a"));
        admin.ignoreOverrideNext(1);

        Txt2ImgResult result = generate(on("sub_b"));

        assertThat(result.images()).hasSize(1);
        assertThat(result.metadata()).containsEntry("sdModelName", "b").containsEntry("modelVerified", true);
        assertThat(admin.stats().calls().received())
                .as("a, the mismatch, the retry")
                .isEqualTo(3);
        assertThat(registry.get("gpu.worker.forge.calls")
                        .tags("call", "options", "outcome", "success")
                        .timer()
                        .count())
                .as("the model was selected through POST /options")
                .isEqualTo(1);
        assertThat(mismatches("retried")).isEqualTo(1);
        assertThat(mismatches("failed")).isZero();
        assertThat(forge.offer().orElseThrow().loadedCheckpoint()).isEqualTo("sub_b");
    }

    @Test
    void failsWithTheModelsNamedWhenForgeRunsTheWrongModelAgain() throws Exception {
        start("--step-ms", "0", "--model-load-ms", "0");
        readForgeLists();
        generate(on("a"));
        admin.ignoreOverrideNext(2);

        assertThatThrownBy(() -> generate(on("sub_b"))).isInstanceOfSatisfying(ModelMismatchException.class, e -> {
            assertThat(e.userMessage()).isEqualTo("The GPU server used model a instead of sub_b.");
            assertThat(e.requested()).isEqualTo("sub_b");
            assertThat(e.used()).isEqualTo("a");
        });
        assertThat(admin.stats().calls().received())
                .as("a, the mismatch, ONE retry")
                .isEqualTo(3);
        assertThat(mismatches("retried")).isEqualTo(1);
        assertThat(mismatches("failed")).isEqualTo(1);
        assertThat(forge.offer().orElseThrow().loadedCheckpoint())
                .as("what actually ran")
                .isEqualTo("a");
    }

    @Test
    void verifiesNothingForAJobWithoutACheckpoint() throws Exception {
        start("--step-ms", "0", "--model-load-ms", "0");
        generate(on("a"));
        admin.ignoreOverrideNext(1);

        Txt2ImgResult result = generate(on(null));

        assertThat(result.images()).hasSize(1);
        assertThat(result.metadata()).doesNotContainKey("modelVerified");
        assertThat(admin.stats().calls().received()).isEqualTo(2);
        assertThat(mismatches("retried") + mismatches("failed")).isZero();
    }

    @Test
    void offersTheLoadedCheckpointOnlyOnceAJobShowedIt() throws Exception {
        start("--step-ms", "0", "--model-load-ms", "0", "--loaded", "a");
        assertThat(forge.offer())
                .as("nothing offered before Forge's lists were read")
                .isEmpty();
        assertThat(forge.refreshCatalog()).isTrue();

        ForgeClient.Offer before = forge.offer().orElseThrow();
        generate(on(null));
        ForgeClient.Offer after = forge.offer().orElseThrow();

        assertThat(before.checkpoints()).contains("a", "sub_b");
        assertThat(before.loadedCheckpoint())
                .as("Forge's option is only the selected model")
                .isNull();
        assertThat(after.loadedCheckpoint()).isEqualTo("a");
    }

    @Test
    void measuresTheSpeedTheFirstLoadAndTheLoadTimeOfASwitchAndCountsTheSwitch() throws Exception {
        start("--step-ms", "10", "--model-load-ms", "800");
        readForgeLists();
        generate(on("a")); // loads a (Forge had nothing loaded): no switch
        generate(on("a")); // a speed sample: 4 steps x 10 ms at 64x64
        ForgeClient.Offer warm = forge.offer().orElseThrow();

        generate(on("sub_b")); // a switch: 800 ms load
        ForgeClient.Offer switched = forge.offer().orElseThrow();

        assertThat(warm.secondsPerStep()).isNotNull().isPositive();
        assertThat(warm.loadSeconds())
                .as("the first load, split once the speed was known")
                .containsOnlyKeys("a");
        assertThat(warm.loadSeconds().get("a")).isBetween(0.5, 1.5);
        assertThat(switched.loadedCheckpoint()).isEqualTo("sub_b");
        assertThat(switched.loadSeconds()).containsOnlyKeys("a", "sub_b");
        assertThat(switched.loadSeconds().get("sub_b")).isBetween(0.5, 1.5);
        assertThat(registry.get("gpu.worker.checkpoint.switches")
                        .tag("checkpoint", "sub_b")
                        .counter()
                        .count())
                .isEqualTo(1);
        assertThat(registry.get("gpu.worker.checkpoint.switch.time")
                        .tag("checkpoint", "sub_b")
                        .timer()
                        .count())
                .isEqualTo(1);
        assertThat(registry.get("gpu.worker.gpu.time")
                        .tag("activity", "loading")
                        .functionCounter()
                        .count())
                .isBetween(0.5, 1.5);
        assertThat(registry.get("gpu.worker.gpu.time")
                        .tag("activity", "generating")
                        .functionCounter()
                        .count())
                .isGreaterThan(3 * 4 * 0.010);
    }
}
