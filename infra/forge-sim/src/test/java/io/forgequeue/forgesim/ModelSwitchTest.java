package io.forgequeue.forgesim;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * Checkpoint switches (issue 17): a load is charged only when the model changes, whichever route names it; the
 * model that ran is the one {@code info} reports; the "ignore override" fault; loading vs generating time.
 */
class ModelSwitchTest {

    private ForgeSimServer sim;

    private SimClient forge;

    private ForgeSimAdmin admin;

    private void start(String... flags) {
        sim = SimTestSupport.startSim(flags);
        forge = new SimClient(sim.baseUrl());
        admin = new ForgeSimAdmin(sim.adminUrl());
    }

    @AfterEach
    void stopSim() {
        if (sim != null) {
            sim.close();
        }
    }

    private static String job(String checkpoint) {
        String base = "{\"steps\":2,\"width\":16,\"height\":16";
        return checkpoint == null
                ? base + "}"
                : base + ",\"override_settings\":{\"sd_model_checkpoint\":\"" + checkpoint
                        + "\"},\"override_settings_restore_afterwards\":false}";
    }

    private JsonNode run(String checkpoint) {
        SimClient.Reply reply = forge.txt2img(job(checkpoint));
        assertThat(reply.status()).as(reply.text()).isEqualTo(200);
        return reply.info();
    }

    private String hashOf(String title) {
        for (JsonNode m : forge.get("/sdapi/v1/sd-models").json()) {
            if (m.get("title").stringValue().startsWith(title + " [")) {
                return m.get("hash").stringValue();
            }
        }
        throw new AssertionError("no checkpoint " + title);
    }

    @Test
    void loadsACheckpointOncePerSwitchWhicheverAliasOrRouteNamesIt() {
        start("--step-ms", "0", "--model-load-ms", "0", "--models", "a.safetensors,sub/b.ckpt");

        run("a"); // first load: a
        run("a.safetensors"); // same model, another alias
        run("a.safetensors [" + hashOf("a.safetensors") + "]");
        run(null); // the selected one is a
        long afterA = admin.state().modelLoads();
        forge.post("/sdapi/v1/options", "{\"sd_model_checkpoint\":\"sub_b\"}");
        long afterSelect = admin.state().modelLoads(); // Forge only selects; it loads lazily
        JsonNode b = run(null); // switch: b
        run("sub/b.ckpt");
        run("b");
        JsonNode backToA = run("a"); // switch: a

        assertThat(afterA).isEqualTo(1);
        assertThat(afterSelect).isEqualTo(1);
        assertThat(b.get("sd_model_name").stringValue()).isEqualTo("b");
        assertThat(b.get("sd_model_hash").stringValue()).isEqualTo(hashOf("sub/b.ckpt"));
        assertThat(backToA.get("sd_model_name").stringValue()).isEqualTo("a");
        assertThat(admin.state().modelLoads()).isEqualTo(3);
        assertThat(admin.stats().duty().modelLoads()).isEqualTo(3);
    }

    @Test
    void ignoresTheRequestedCheckpointForTheNextCallsAndReportsTheModelThatRan() {
        start("--step-ms", "0", "--model-load-ms", "0", "--models", "a.safetensors,sub/b.ckpt");
        run("a");

        ForgeSimAdmin.State armed = admin.ignoreOverrideNext(2);
        JsonNode first = run("b");
        forge.post("/sdapi/v1/options", "{\"sd_model_checkpoint\":\"sub/b.ckpt\"}");
        JsonNode second = run("b");
        JsonNode third = run("b");

        assertThat(armed.ignoreOverrideNext()).isEqualTo(2);
        assertThat(first.get("sd_model_name").stringValue()).isEqualTo("a");
        assertThat(first.get("sd_model_hash").stringValue()).isEqualTo(hashOf("a.safetensors"));
        assertThat(second.get("sd_model_name").stringValue())
                .as("also what /options selected is ignored")
                .isEqualTo("a");
        assertThat(third.get("sd_model_name").stringValue())
                .as("the fault is used up")
                .isEqualTo("b");
        assertThat(third.get("sd_model_hash").stringValue()).isEqualTo(hashOf("sub/b.ckpt"));
        assertThat(admin.state().ignoreOverrideNext()).isZero();
        assertThat(admin.state().modelLoads()).isEqualTo(2);
    }

    @Test
    void ignoringTheOverrideLoadsTheSelectedCheckpointWhenNoneIsLoaded() {
        start("--step-ms", "0", "--model-load-ms", "0", "--models", "a.safetensors,sub/b.ckpt");
        admin.ignoreOverrideNext(1);

        JsonNode ran = run("b");

        assertThat(ran.get("sd_model_name").stringValue()).isEqualTo("a");
        assertThat(admin.state().loadedModel()).startsWith("a.safetensors [");
    }

    @Test
    void clearingFaultsEndsTheIgnoredOverrides() {
        start("--step-ms", "0", "--model-load-ms", "0", "--models", "a.safetensors,sub/b.ckpt");
        run("a");
        admin.ignoreOverrideNext(5);

        admin.clearFaults();

        assertThat(run("b").get("sd_model_name").stringValue()).isEqualTo("b");
    }

    @Test
    void splitsBusyTimeIntoLoadingAndGenerating() {
        start("--step-ms", "20", "--model-load-ms", "150", "--models", "a.safetensors,sub/b.ckpt");

        run("a");
        run("a");
        run("b");
        ForgeSimAdmin.DutyCycle duty = admin.stats().duty();

        assertThat(duty.modelLoads()).isEqualTo(2);
        assertThat(duty.loadingMicros()).isBetween(300_000L, 300_000L + 100_000L);
        assertThat(duty.generatingMicros())
                .isEqualTo(duty.busyMicros() - duty.loadingMicros())
                .isGreaterThanOrEqualTo(3 * 2 * 20_000L);
        assertThat(duty.usefulShare())
                .isGreaterThan(0)
                .isLessThan(0.5)
                .isCloseTo(
                        (double) duty.generatingMicros() / duty.wallMicros(),
                        org.assertj.core.data.Offset.offset(0.05));
        assertThat(admin.resetStats().duty().loadingMicros()).isZero();
    }

    @Test
    void startsWithTheChosenCheckpointSelectedAndLoaded() {
        start("--step-ms", "0", "--model-load-ms", "0", "--models", "a.safetensors,sub/b.ckpt", "--loaded", "sub_b");

        ForgeSimAdmin.State before = admin.state();
        JsonNode ran = run(null);

        assertThat(before.loadedModel()).startsWith("sub/b.ckpt [");
        assertThat(before.selectedModel()).startsWith("sub/b.ckpt [");
        assertThat(ran.get("sd_model_name").stringValue()).isEqualTo("b");
        assertThat(admin.state().modelLoads())
                .as("no load for the preloaded checkpoint")
                .isZero();
        assertThat(forge.get("/sdapi/v1/options")
                        .json()
                        .get("sd_model_checkpoint")
                        .stringValue())
                .startsWith("sub/b.ckpt");
    }

    @Test
    void chargesEachCheckpointItsOwnLoadTimeAndTheDefaultToTheOthers() {
        start(
                "--step-ms",
                "0",
                "--model-load-ms",
                "50",
                "--models",
                "a.safetensors,sub/b.ckpt,c.safetensors",
                "--checkpoint-load-ms",
                "a=400,sub/b.ckpt=150");

        long a = timedLoad("a");
        long b = timedLoad("b");
        long c = timedLoad("c");

        assertThat(a).as("a's own load time").isBetween(400_000L, 400_000L + 150_000L);
        assertThat(b).as("b's own load time, named by another alias").isBetween(150_000L, 150_000L + 150_000L);
        assertThat(c).as("c has none of its own: --model-load-ms").isBetween(50_000L, 50_000L + 100_000L);
        assertThat(admin.state().modelLoads()).isEqualTo(3);
    }

    @Test
    void refusesALoadTimeForACheckpointItDoesNotHave() {
        org.assertj.core.api.Assertions.assertThatThrownBy(
                        () -> SimConfig.fromArgs("--models", "a.safetensors", "--checkpoint-load-ms", "z=100"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'z'");
    }

    /** Runs a job of {@code checkpoint} (not loaded) and returns the loading time it added, in microseconds. */
    private long timedLoad(String checkpoint) {
        long before = admin.stats().duty().loadingMicros();
        run(checkpoint);
        return admin.stats().duty().loadingMicros() - before;
    }
}
