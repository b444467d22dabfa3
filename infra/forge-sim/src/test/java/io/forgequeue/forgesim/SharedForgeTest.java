package io.forgequeue.forgesim;

import static io.forgequeue.forgesim.SimTestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * One Forge shared by several clients (issue 15): other clients' jobs, held calls, interrupts from outside, and the
 * per-task progress of {@code force_task_id} ({@code /internal/progress}, WebUI mode only). Every state is held
 * through the admin API, never timed.
 */
class SharedForgeTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    private ForgeSimServer sim;

    private SimClient forge;

    private ForgeSimAdmin admin;

    private void start(String... flags) {
        String[] all = new String[flags.length + 6];
        System.arraycopy(new String[] {"--step-ms", "0", "--model-load-ms", "0", "--preview-every", "1"}, 0, all, 0, 6);
        System.arraycopy(flags, 0, all, 6, flags.length);
        sim = SimTestSupport.startSim(all);
        forge = new SimClient(sim.baseUrl());
        admin = new ForgeSimAdmin(sim.adminUrl());
    }

    @AfterEach
    void stop() {
        if (sim != null) {
            sim.close();
        }
    }

    private JsonNode taskProgress(String id, int knownPreview) {
        SimClient.Reply reply = forge.post(
                "/internal/progress",
                "{\"id_task\":\"" + id + "\",\"id_live_preview\":" + knownPreview + ",\"live_preview\":true}");
        assertThat(reply.status()).as(reply.text()).isEqualTo(200);
        return reply.json();
    }

    @Test
    void hasNoTaskProgressInApiOnlyModeAsForgeWithNowebui() {
        start();

        SimClient.Reply progress = forge.post("/internal/progress", "{\"id_task\":\"x\"}");
        SimClient.Reply pending = forge.get("/internal/pending-tasks");
        admin.webui(true);
        SimClient.Reply afterSwitch = forge.post("/internal/progress", "{\"id_task\":\"x\"}");

        assertThat(progress.status()).isEqualTo(404);
        assertThat(progress.text()).isEqualTo("{\"detail\":\"Not Found\"}");
        assertThat(pending.status()).isEqualTo(404);
        assertThat(afterSwitch.status()).isEqualTo(200);
        assertThat(afterSwitch.json().get("active").booleanValue()).isFalse();
        assertThat(afterSwitch.json().get("textinfo").stringValue()).isEqualTo("Waiting...");
        assertThat(admin.state().webui()).isTrue();
    }

    @Test
    void reportsATasksProgressAndPreviewOnlyWhileItHoldsTheLock() {
        start("--webui");
        String other = admin.startForeignJob(
                ForgeSimAdmin.ForeignJob.api("someone else's cat", 10).heldAtStep(3));
        await("the other client's job held at step 3", WAIT, () -> admin.state().heldNow() == 1);
        admin.holdNext(1, 5);

        CompletableFuture<SimClient.Reply> mine = forge.txt2imgAsync(
                "{\"prompt\":\"my dog\",\"steps\":10,\"width\":64,\"height\":64,\"force_task_id\":\"job-mine\"}");
        await("my call queued", WAIT, () -> admin.state().pendingTasks().contains("job-mine"));
        JsonNode queued = taskProgress("job-mine", -1);
        JsonNode running = taskProgress(other, -1);
        JsonNode pending = forge.get("/internal/pending-tasks").json();

        assertThat(queued.get("active").booleanValue()).isFalse();
        assertThat(queued.get("queued").booleanValue()).isTrue();
        assertThat(queued.get("progress").isNull()).isTrue();
        assertThat(queued.get("live_preview").isNull()).isTrue();
        assertThat(queued.get("textinfo").stringValue()).isEqualTo("In queue: 1/1");
        assertThat(running.get("active").booleanValue()).isTrue();
        assertThat(running.get("progress").doubleValue()).isEqualTo(0.2); // 2 of 10 steps reported (0-based step 2)
        assertThat(running.get("live_preview").stringValue()).startsWith("data:image/png;base64,");
        assertThat(pending.get("size").asInt()).isEqualTo(1);
        assertThat(pending.get("tasks").get(0).stringValue()).isEqualTo("job-mine");
        assertThat(admin.state().currentTask()).isEqualTo(other);

        admin.release();
        await(
                "my call held at step 5",
                WAIT,
                () -> "job-mine".equals(admin.state().currentTask())
                        && admin.state().heldNow() == 1);
        JsonNode active = taskProgress("job-mine", -1);
        JsonNode again = taskProgress("job-mine", active.get("id_live_preview").asInt());
        JsonNode otherDone = taskProgress(other, -1);

        assertThat(active.get("active").booleanValue()).isTrue();
        assertThat(active.get("queued").booleanValue()).isFalse();
        assertThat(active.get("progress").doubleValue()).isEqualTo(0.4);
        assertThat(active.get("eta").isNumber()).isTrue();
        assertThat(active.get("live_preview").stringValue()).startsWith("data:image/png;base64,");
        assertThat(active.get("id_live_preview").asInt()).isPositive();
        assertThat(again.get("live_preview").isNull())
                .as("no newer preview than the one already seen")
                .isTrue();
        assertThat(again.get("id_live_preview").asInt())
                .isEqualTo(active.get("id_live_preview").asInt());
        assertThat(otherDone.get("active").booleanValue()).isFalse();
        assertThat(otherDone.get("completed").booleanValue()).isTrue();

        admin.release();
        assertThat(mine.join().status()).isEqualTo(200);
        assertThat(taskProgress("job-mine", -1).get("completed").booleanValue()).isTrue();
        assertThat(admin.state().currentTask()).isNull();
    }

    @Test
    void keepsAFailedTaskActiveUntilTheNextTaskStarts() {
        start("--webui");
        admin.failNext(1);

        SimClient.Reply failed =
                forge.txt2img("{\"steps\":2,\"width\":16,\"height\":16,\"force_task_id\":\"job-bad\"}");
        JsonNode afterFailure = taskProgress("job-bad", -1);
        forge.txt2img("{\"steps\":2,\"width\":16,\"height\":16,\"force_task_id\":\"job-next\"}");

        assertThat(failed.status()).isEqualTo(500);
        assertThat(afterFailure.get("active").booleanValue()).isTrue();
        assertThat(afterFailure.get("completed").booleanValue()).isFalse();
        assertThat(taskProgress("job-bad", -1).get("active").booleanValue()).isFalse();
        assertThat(taskProgress("job-next", -1).get("completed").booleanValue()).isTrue();
    }

    @Test
    void anInterruptFromAnotherClientEndsTheCallWithItsUnfinishedImagesAndLeavesTheFlagSet() {
        start();
        admin.interruptNext(1, 4);

        SimClient.Reply reply =
                forge.txt2img("{\"prompt\":\"p\",\"steps\":10,\"width\":32,\"height\":32,\"batch_size\":2}");
        JsonNode idle = forge.progress().get("state");

        assertThat(reply.status()).isEqualTo(200);
        assertThat(reply.imageCount()).as("the current batch as it is").isEqualTo(2);
        assertThat(idle.get("interrupted").booleanValue()).isTrue();
        assertThat(idle.get("job_count").asInt()).isZero();
        assertThat(idle.get("job_timestamp").stringValue())
                .isEqualTo(reply.info().get("job_timestamp").stringValue());
        assertThat(admin.stats().calls().interrupted()).isEqualTo(1);
        assertThat(forge.txt2img("{\"steps\":2,\"width\":16,\"height\":16}").imageCount())
                .as("the fault hits one call")
                .isEqualTo(1);
        assertThat(forge.progress().get("state").get("interrupted").booleanValue())
                .as("reset by the next begin")
                .isFalse();
    }

    @Test
    void anInterruptBeforeTheFirstStepReturnsNoImage() {
        start();
        admin.interruptNext(1, 0);

        SimClient.Reply reply = forge.txt2img("{\"steps\":10,\"width\":32,\"height\":32}");

        assertThat(reply.status()).isEqualTo(200);
        assertThat(reply.imageCount()).isZero();
        assertThat(forge.progress().get("state").get("interrupted").booleanValue())
                .isTrue();
    }

    @Test
    void aHeldCallKeepsTheLockAndShowsItsStateUntilReleasedAndAnOutsideInterruptThenStopsIt() {
        start();
        admin.holdNext(1, 0);

        CompletableFuture<SimClient.Reply> call = forge.txt2imgAsync("{\"steps\":10,\"width\":32,\"height\":32}");
        await("held before its first step", WAIT, () -> admin.state().heldNow() == 1);
        JsonNode held = forge.progress().get("state");
        CompletableFuture<SimClient.Reply> queued = forge.txt2imgAsync("{\"steps\":2,\"width\":16,\"height\":16}");
        await("a second call queued", WAIT, () -> admin.state().waiting() == 1);
        forge.post("/sdapi/v1/interrupt", "{}");
        admin.release();

        assertThat(held.get("job_count").asInt()).isEqualTo(1);
        assertThat(held.get("job").stringValue()).isEqualTo("scripts_txt2img");
        assertThat(held.get("sampling_steps").asInt()).isEqualTo(10);
        assertThat(held.get("sampling_step").asInt()).isZero();
        assertThat(call.join().imageCount())
                .as("interrupted before its first step")
                .isZero();
        assertThat(queued.join().imageCount()).as("the next call runs normally").isEqualTo(1);
    }

    @Test
    void aWebUiJobIsNamedAfterItsTaskAndLeavesNoFlagsBehind() {
        start("--webui");
        String task = admin.startForeignJob(
                ForgeSimAdmin.ForeignJob.ui("a person's castle", 10).heldAtStep(2));
        await("the UI job held", WAIT, () -> admin.state().heldNow() == 1);

        JsonNode running = forge.progress().get("state");
        forge.post("/sdapi/v1/interrupt", "{}");
        JsonNode interrupted = forge.progress().get("state");
        admin.release();
        await("the UI job ended", WAIT, () -> admin.state().foreignRunning() == 0);
        JsonNode idle = forge.progress().get("state");

        assertThat(task).startsWith("task(ui-");
        assertThat(running.get("job").stringValue()).isEqualTo(task);
        assertThat(interrupted.get("interrupted").booleanValue()).isTrue();
        assertThat(idle.get("job_count").asInt()).isZero();
        assertThat(idle.get("interrupted").booleanValue())
                .as("wrap_gradio_call resets the flags")
                .isFalse();
        assertThat(taskProgress(task, -1).get("completed").booleanValue()).isTrue();
        assertThat(admin.stats().calls().completed()).isEqualTo(1);
    }

    @Test
    void releaseLetsHungAndHeldCallsGoOnAndKeepsFaultsPlannedForLaterCalls() {
        start();
        admin.hangNext(1);
        CompletableFuture<SimClient.Reply> hung = forge.txt2imgAsync("{\"steps\":4,\"width\":16,\"height\":16}");
        await("hung", WAIT, () -> admin.state().hungNow() == 1);
        admin.startForeignJob(ForgeSimAdmin.ForeignJob.api("other", 4).heldAtStep(1));
        await("the other job held", WAIT, () -> admin.state().heldNow() == 1);
        admin.holdNext(1, 2);

        admin.release();

        await(
                "the released call held at its own step",
                WAIT,
                () -> admin.state().heldNow() == 1 && admin.state().foreignRunning() == 0);
        assertThat(admin.state().holdNext()).isZero();
        admin.release();
        assertThat(hung.join().status()).isEqualTo(200);
    }

    @Test
    void clearingFaultsReleasesHeldCalls() {
        start();
        admin.holdNext(1, 1);
        CompletableFuture<SimClient.Reply> call = forge.txt2imgAsync("{\"steps\":4,\"width\":16,\"height\":16}");
        await("held", WAIT, () -> admin.state().heldNow() == 1);

        admin.clearFaults();

        assertThat(call.join().status()).isEqualTo(200);
        assertThat(admin.state().heldNow()).isZero();
    }
}
