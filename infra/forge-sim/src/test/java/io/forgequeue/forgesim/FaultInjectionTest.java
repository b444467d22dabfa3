package io.forgequeue.forgesim;

import static io.forgequeue.forgesim.SimTestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/** Faults injected through {@link ForgeSimAdmin} against an in-process sim. */
class FaultInjectionTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    private static final String JOB = "{\"steps\":2,\"width\":16,\"height\":16}";

    private ForgeSimServer sim;

    private SimClient forge;

    private ForgeSimAdmin admin;

    @BeforeEach
    void startSim() {
        sim = SimTestSupport.startSim("--step-ms", "1", "--model-load-ms", "0");
        forge = new SimClient(sim.baseUrl());
        admin = new ForgeSimAdmin(sim.adminUrl());
    }

    @AfterEach
    void stopSim() {
        sim.close();
    }

    @Test
    void failsTheNextCallsWithA500RuntimeErrorThenServesAgain() {
        admin.failNext(2);

        SimClient.Reply first = forge.txt2img(JOB);
        SimClient.Reply second = forge.txt2img(JOB);
        SimClient.Reply third = forge.txt2img(JOB);

        assertThat(first.status()).isEqualTo(500);
        assertThat(first.text())
                .isEqualTo(
                        "{\"error\":\"RuntimeError\",\"detail\":\"\",\"body\":\"\",\"message\":\"forge-sim: injected failure\"}");
        assertThat(second.status()).isEqualTo(500);
        assertThat(third.status()).isEqualTo(200);
        assertThat(forge.progress().get("state").get("job_count").asInt())
                .as("state.end() ran")
                .isZero();
        assertThat(admin.stats().calls().failed()).isEqualTo(2);
    }

    @Test
    void failsWithACudaOutOfMemoryErrorAndCountsItInMemoryEvents() {
        admin.failNextWithOutOfMemory(1);

        SimClient.Reply reply = forge.txt2img(JOB);

        assertThat(reply.status()).isEqualTo(500);
        JsonNode body = reply.json();
        assertThat(body.get("error").stringValue()).isEqualTo("OutOfMemoryError");
        assertThat(body.get("message").stringValue()).startsWith("CUDA out of memory. Tried to allocate");
        assertThat(body.get("detail").stringValue()).isEmpty();
        assertThat(forge.get("/sdapi/v1/memory")
                        .json()
                        .get("cuda")
                        .get("events")
                        .get("oom")
                        .asLong())
                .isEqualTo(1);
    }

    @Test
    void failsInTheMiddleOfAJobWithAnyErrorClassAndMessage() {
        admin.failNext(1, "NansException", "A tensor with all NaNs was produced in VAE.", 3);
        long start = System.nanoTime();

        SimClient.Reply reply = forge.txt2img("{\"steps\":10,\"width\":16,\"height\":16}");

        assertThat(reply.status()).isEqualTo(500);
        assertThat(reply.json().get("error").stringValue()).isEqualTo("NansException");
        assertThat(reply.json().get("message").stringValue()).isEqualTo("A tensor with all NaNs was produced in VAE.");
        assertThat(forge.progress().get("state").get("sampling_step").asInt())
                .as("failed after step index 2")
                .isEqualTo(2);
        assertThat((System.nanoTime() - start) / 1_000_000).isGreaterThanOrEqualTo(3);
    }

    @Test
    void hangsACallUntilTheFaultIsClearedWithoutBlockingOtherCalls() {
        admin.hangNext(1);
        CompletableFuture<SimClient.Reply> hung = forge.txt2imgAsync(JOB);
        await("call hung", WAIT, () -> admin.state().hungNow() == 1);

        SimClient.Reply other = forge.txt2img(JOB);
        SimTestSupport.sleep(200);
        assertThat(hung).isNotDone();
        admin.clearFaults();

        assertThat(other.status()).isEqualTo(200);
        assertThat(hung.join().status()).isEqualTo(200);
        assertThat(admin.state().hungNow()).isZero();
        assertThat(admin.stats().calls().hung()).isEqualTo(1);
    }

    @Test
    void holdsCallsAfterAStepWithTheirProgressShownAndTheQueueLockHeldUntilReleased() {
        String tenSteps = "{\"steps\":10,\"width\":16,\"height\":16}";
        admin.holdAtStep(3);
        CompletableFuture<SimClient.Reply> first = forge.txt2imgAsync(tenSteps);
        await("first call held", WAIT, () -> admin.state().heldNow() == 1);
        CompletableFuture<SimClient.Reply> second = forge.txt2imgAsync(tenSteps);
        await("second call waiting for the lock", WAIT, () -> admin.state().waiting() == 1);

        JsonNode progress = forge.progress().get("state");
        assertThat(progress.get("sampling_step").asInt())
                .as("step index 2 done")
                .isEqualTo(2);
        assertThat(admin.state().busy()).isTrue();
        assertThat(first).isNotDone();
        admin.releaseHeld();

        assertThat(first.join().status()).isEqualTo(200);
        await(
                "second call held at the same step",
                WAIT,
                () -> admin.state().calls().held() == 2 && admin.state().heldNow() == 1);
        assertThat(second).isNotDone();
        admin.holdAtStep(7);
        await(
                "second call moved on to the new step",
                WAIT,
                () -> admin.state().calls().held() == 3
                        && forge.progress().get("state").get("sampling_step").asInt() == 6);
        assertThat(second).isNotDone();
        admin.clearFaults();
        assertThat(second.join().status()).isEqualTo(200);
        assertThat(admin.state().heldNow()).isZero();
        assertThat(admin.state().holdAtStep()).isZero();
        assertThat(forge.txt2img(tenSteps).status())
                .as("no hold after clearing")
                .isEqualTo(200);
        assertThat(admin.stats().calls().held()).isEqualTo(3);
    }

    @Test
    void anInterruptEndsAHeldCallWithItsPartialResult() {
        admin.holdAtStep(2);
        CompletableFuture<SimClient.Reply> held = forge.txt2imgAsync("{\"steps\":10,\"width\":16,\"height\":16}");
        await("call held", WAIT, () -> admin.state().heldNow() == 1);

        forge.post("/sdapi/v1/interrupt", "{}");

        SimClient.Reply reply = held.join();
        assertThat(reply.status()).isEqualTo(200);
        assertThat(reply.json().get("images")).hasSize(1);
        assertThat(admin.stats().calls().interrupted()).isEqualTo(1);
        assertThat(admin.state().heldNow()).isZero();
        assertThat(admin.state().holdAtStep())
                .as("the hold stays for the next calls")
                .isEqualTo(2);
    }

    @Test
    void aHoldWithACountReplacesTheHoldForEveryCallAndKeepsItsCallThroughAnInterruptUntilReleased() {
        String tenSteps = "{\"steps\":10,\"width\":16,\"height\":16}";
        admin.holdAtStep(3);
        CompletableFuture<SimClient.Reply> first = forge.txt2imgAsync(tenSteps);
        await(
                "first call held by the hold for every call",
                WAIT,
                () -> admin.state().heldNow() == 1);

        ForgeSimAdmin.State counted = admin.holdNext(1, 5);
        assertThat(within(first).status())
                .as("the first call went on to its end")
                .isEqualTo(200);
        CompletableFuture<SimClient.Reply> second = forge.txt2imgAsync(tenSteps);
        await("second call held after 5 steps", WAIT, () -> admin.state().heldNow() == 1);
        forge.post("/sdapi/v1/interrupt", "{}");
        CompletableFuture<SimClient.Reply> third = forge.txt2imgAsync(tenSteps);
        await("a third call waiting for the lock", WAIT, () -> admin.state().waiting() == 1);
        JsonNode heldState = forge.progress().get("state");
        ForgeSimAdmin.State whileHeld = admin.state();
        assertThat(second).as("still held after the interrupt").isNotDone();
        admin.releaseHeld();

        assertThat(counted.holdNext()).isEqualTo(1);
        assertThat(counted.holdAtStep()).isEqualTo(5);
        assertThat(whileHeld.heldNow()).isEqualTo(1);
        assertThat(whileHeld.holdNext()).as("taken by the second call").isZero();
        assertThat(heldState.get("interrupted").booleanValue()).isTrue();
        assertThat(heldState.get("sampling_step").asInt())
                .as("step index 4 done")
                .isEqualTo(4);
        SimClient.Reply partial = within(second);
        assertThat(partial.status()).isEqualTo(200);
        assertThat(partial.imageCount()).as("interrupted when it went on").isEqualTo(1);
        assertThat(within(third).status()).as("the hold took one call only").isEqualTo(200);
        assertThat(admin.stats().calls().interrupted()).isEqualTo(1);
        assertThat(admin.stats().calls().held()).isEqualTo(2);
        assertThat(admin.state().holdAtStep()).isZero();
    }

    @Test
    void bothReleasesLetHeldCallsGoOnAndKeepTheHoldWhileOnlyTheAdminReleaseFreesHungCalls() {
        admin.hangNext(1);
        CompletableFuture<SimClient.Reply> hung = forge.txt2imgAsync(JOB);
        await("hung", WAIT, () -> admin.state().hungNow() == 1);
        admin.holdAtStep(1);
        CompletableFuture<SimClient.Reply> first = forge.txt2imgAsync(JOB);
        await("first call held", WAIT, () -> admin.state().heldNow() == 1);

        admin.releaseHeld();
        assertThat(within(first).status()).isEqualTo(200);
        assertThat(admin.state().hungNow())
                .as("releaseHeld leaves hung calls alone")
                .isEqualTo(1);
        CompletableFuture<SimClient.Reply> second = forge.txt2imgAsync(JOB);
        await(
                "second call held",
                WAIT,
                () -> admin.state().calls().held() == 2 && admin.state().heldNow() == 1);
        admin.release();

        assertThat(within(second).status()).isEqualTo(200);
        await(
                "the hung call went on and is held in turn",
                WAIT,
                () -> admin.state().calls().held() == 3
                        && admin.state().heldNow() == 1
                        && admin.state().hungNow() == 0);
        assertThat(admin.state().holdAtStep()).isEqualTo(1);
        admin.clearFaults();
        assertThat(within(hung).status()).isEqualTo(200);
    }

    @Test
    void aCallASkipFreedFromTheHoldIsNotHeldAgainWhenItsNextBatchStartsAtTheSameStepCount() {
        admin.holdAtStep(3);
        CompletableFuture<SimClient.Reply> call =
                forge.txt2imgAsync("{\"steps\":5,\"n_iter\":2,\"width\":16,\"height\":16}");
        await("held in the first batch", WAIT, () -> admin.state().heldNow() == 1);

        forge.post("/sdapi/v1/skip", "{}");

        SimClient.Reply reply = within(call);
        assertThat(reply.imageCount())
                .as("the skipped batch as it is, and the second")
                .isEqualTo(2);
        assertThat(admin.stats().calls().held()).isEqualTo(1);
        assertThat(admin.state().holdAtStep()).isEqualTo(3);
    }

    private static SimClient.Reply within(CompletableFuture<SimClient.Reply> call) {
        return call.orTimeout(WAIT.toMillis(), TimeUnit.MILLISECONDS).join();
    }

    @Test
    void goingDownRefusesConnectionsAndComingUpRebindsTheSamePort() {
        int port = sim.apiPort();

        ForgeSimAdmin.State down = admin.goDown();

        assertThat(down.apiUp()).isFalse();
        assertThatThrownBy(() -> forge.get("/internal/ping"))
                .isInstanceOf(UncheckedIOException.class)
                .hasCauseInstanceOf(ConnectException.class);
        ForgeSimAdmin.State up = admin.comeUp();
        assertThat(up.apiUp()).isTrue();
        assertThat(up.apiPort()).isEqualTo(port);
        assertThat(forge.txt2img(JOB).status()).isEqualTo(200);
    }

    @Test
    void goingDownDropsTheRunningCallAndComesBackByItselfAfterTheGivenTime() {
        admin.stepTime(Duration.ofMillis(50));
        CompletableFuture<SimClient.Reply> running = forge.txt2imgAsync("{\"steps\":100,\"width\":16,\"height\":16}");
        await("job running", WAIT, () -> admin.state().busy());

        admin.goDown(Duration.ofMillis(400));

        assertThatThrownBy(running::join).isInstanceOf(CompletionException.class);
        assertThatThrownBy(() -> forge.get("/internal/ping")).hasCauseInstanceOf(ConnectException.class);
        await("API back", WAIT, () -> admin.state().apiUp());
        JsonNode progress = forge.progress();
        assertThat(progress.get("state").get("job_count").asInt()).isZero();
        assertThat(progress.get("state").get("job_timestamp").stringValue())
                .as("a restarted Forge forgot everything")
                .isEqualTo("0");
        assertThat(admin.state().loadedModel()).isNull();
        assertThat(admin.state().busy()).isFalse();
        assertThat(admin.stats().calls().aborted()).isEqualTo(1);
    }

    @Test
    void goingDownReleasesHungCallsWithoutAnAnswer() {
        admin.hangNext(1);
        CompletableFuture<SimClient.Reply> hung = forge.txt2imgAsync(JOB);
        await("call hung", WAIT, () -> admin.state().hungNow() == 1);

        admin.goDown();

        assertThatThrownBy(hung::join).isInstanceOf(CompletionException.class);
        await("hung call released", WAIT, () -> admin.state().hungNow() == 0);
        admin.comeUp();
        assertThat(forge.txt2img(JOB).status()).isEqualTo(200);
    }

    @Test
    void failsAShareOfCallsAtRandomReproduciblyForTheSameSeed() {
        List<Integer> firstRun = statuses(40, 0.5, 7);
        List<Integer> secondRun = statuses(40, 0.5, 7);

        long failures = firstRun.stream().filter(s -> s == 500).count();
        assertThat(failures).isBetween(8L, 32L);
        assertThat(secondRun).isEqualTo(firstRun);
        admin.clearFaults();
        assertThat(statuses(5, 0, 1)).containsOnly(200);
    }

    @Test
    void slowsTheNextModelLoadDown() {
        forge.txt2img(JOB);
        admin.slowModelLoad(Duration.ofMillis(300));
        long start = System.nanoTime();

        forge.txt2img(JOB);

        assertThat((System.nanoTime() - start) / 1_000_000).isGreaterThanOrEqualTo(300);
        assertThat(admin.state().modelLoadMs()).isEqualTo(300);
    }

    @Test
    void appliesFaultsGivenAsStartupFlags() throws Exception {
        try (ForgeSimServer flagged = SimTestSupport.startSim(
                "--step-ms", "0", "--model-load-ms", "0", "--fail-next", "1", "--fail-error", "OutOfMemoryError")) {
            SimClient client = new SimClient(flagged.baseUrl());

            assertThat(client.txt2img(JOB).json().get("error").stringValue()).isEqualTo("OutOfMemoryError");
            assertThat(client.txt2img(JOB).status()).isEqualTo(200);
        }
    }

    private List<Integer> statuses(int calls, double rate, long seed) {
        if (rate > 0) {
            admin.failureRate(rate, seed);
        }
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < calls; i++) {
            out.add(forge.txt2img(JOB).status());
        }
        return out;
    }
}
