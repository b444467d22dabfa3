package io.forgequeue.forgesim;

import static io.forgequeue.forgesim.SimTestSupport.await;
import static io.forgequeue.forgesim.SimTestSupport.startSim;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/** The queue lock, GET /progress, interrupt and skip, over HTTP. */
class QueueAndProgressTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    @Test
    void serializesConcurrentCallsInArrivalOrder() {
        try (ForgeSimServer sim = startSim("--step-ms", "20", "--model-load-ms", "0")) {
            SimClient forge = new SimClient(sim.baseUrl());
            ForgeSimAdmin admin = new ForgeSimAdmin(sim.adminUrl());
            List<CompletableFuture<Long>> doneAt = new ArrayList<>();
            admin.holdNext(1, 1); // the first call keeps the lock until all others queue behind it, however slow we are

            for (int i = 0; i < 5; i++) {
                int waiting = i;
                doneAt.add(forge.txt2imgAsync("{\"prompt\":\"job " + i + "\",\"steps\":5,\"width\":16,\"height\":16}")
                        .thenApply(r -> {
                            assertThat(r.status()).isEqualTo(200);
                            return System.nanoTime();
                        }));
                if (i == 0) {
                    await(
                            "first job running and held",
                            WAIT,
                            () -> admin.state().heldNow() == 1);
                } else {
                    await(i + " calls queued", WAIT, () -> admin.state().waiting() == waiting);
                }
            }
            admin.release();

            List<Long> times = doneAt.stream().map(CompletableFuture::join).toList();
            for (int i = 1; i < times.size(); i++) {
                assertThat(times.get(i))
                        .as("job %d finishes after job %d", i, i - 1)
                        .isGreaterThan(times.get(i - 1));
            }
            ForgeSimAdmin.DutyCycle duty = admin.stats().duty();
            assertThat(duty.busyMicros())
                    .as("each job holds the lock for 5 x 20 ms")
                    .isGreaterThanOrEqualTo(5 * 100_000L);
            assertThat(duty.spanMicros()).as("busy intervals do not overlap").isGreaterThanOrEqualTo(duty.busyMicros());
            assertThat(admin.stats().duty().jobs()).isEqualTo(5);
        }
    }

    @Test
    void reportsProgressWhileRunningAndTheLastJobsValuesWhenIdle() {
        try (ForgeSimServer sim = startSim("--step-ms", "25", "--model-load-ms", "0")) {
            SimClient forge = new SimClient(sim.baseUrl());
            ForgeSimAdmin admin = new ForgeSimAdmin(sim.adminUrl());
            admin.holdAtStep(25); // the 5th step of the second batch
            CompletableFuture<SimClient.Reply> call =
                    forge.txt2imgAsync("{\"steps\":20,\"width\":16,\"height\":16,\"n_iter\":2}");

            await("second batch running", WAIT, () -> admin.state().heldNow() == 1);
            JsonNode running = forge.progress();
            admin.clearFaults();
            SimClient.Reply reply = call.join();
            JsonNode idle = forge.progress();

            assertThat(running.get("progress").doubleValue()).isBetween(0.5, 1.0);
            assertThat(running.get("eta_relative").doubleValue()).isPositive();
            JsonNode s = running.get("state");
            assertThat(s.get("job").stringValue()).isEqualTo("Batch 2 out of 2");
            assertThat(s.get("job_count").asInt()).isEqualTo(2);
            assertThat(s.get("sampling_steps").asInt()).isEqualTo(20);
            double expected = 0.01 + 1.0 / 2 + 0.5 * s.get("sampling_step").asInt() / 20;
            assertThat(running.get("progress").doubleValue()).isEqualTo(expected);

            assertThat(reply.status()).isEqualTo(200);
            assertThat(idle.get("progress").doubleValue()).isZero();
            assertThat(idle.get("eta_relative").doubleValue()).isZero();
            assertThat(idle.get("current_image").isNull()).isTrue();
            JsonNode i = idle.get("state");
            assertThat(i.get("job").stringValue()).isEmpty();
            assertThat(i.get("job_count").asInt()).isZero();
            assertThat(i.get("job_no").asInt()).isEqualTo(2);
            assertThat(i.get("sampling_steps").asInt()).isEqualTo(20);
            assertThat(i.get("interrupted").booleanValue()).isFalse();
            assertThat(i.get("job_timestamp").stringValue())
                    .isEqualTo(s.get("job_timestamp").stringValue());
        }
    }

    @Test
    void showsALivePreviewEveryNStepsUnlessAskedToSkipIt() throws Exception {
        try (ForgeSimServer sim = startSim("--step-ms", "20", "--model-load-ms", "0", "--preview-every", "2")) {
            SimClient forge = new SimClient(sim.baseUrl());
            CompletableFuture<SimClient.Reply> call = forge.txt2imgAsync("{\"steps\":40,\"width\":512,\"height\":256}");
            await(
                    "some steps done",
                    WAIT,
                    () -> forge.progress().get("state").get("sampling_step").asInt() >= 4);

            JsonNode withPreview =
                    forge.get("/sdapi/v1/progress?skip_current_image=false").json();
            JsonNode without =
                    forge.get("/sdapi/v1/progress?skip_current_image=true").json();
            SimClient.Reply invalid = forge.get("/sdapi/v1/progress?skip_current_image=perhaps");
            new SimClient(sim.baseUrl()).post("/sdapi/v1/interrupt", "{}");
            call.join();

            byte[] png = java.util.Base64.getDecoder()
                    .decode(withPreview.get("current_image").stringValue());
            var preview = javax.imageio.ImageIO.read(new java.io.ByteArrayInputStream(png));
            assertThat(preview.getWidth()).isEqualTo(128);
            assertThat(preview.getHeight()).isEqualTo(64);
            assertThat(without.get("current_image").isNull()).isTrue();
            assertThat(invalid.status()).isEqualTo(422);
            assertThat(invalid.json().get("detail").get(0).get("loc").toString())
                    .isEqualTo("[\"query\",\"skip_current_image\"]");
        }
    }

    @Test
    void interruptEndsTheJobWith200AndTheCurrentBatchAsIs() {
        try (ForgeSimServer sim = startSim("--step-ms", "20", "--model-load-ms", "0")) {
            SimClient forge = new SimClient(sim.baseUrl());
            ForgeSimAdmin admin = new ForgeSimAdmin(sim.adminUrl());
            long start = System.nanoTime();
            CompletableFuture<SimClient.Reply> call = forge.txt2imgAsync(
                    "{\"prompt\":\"p\",\"steps\":20,\"width\":32,\"height\":32,\"batch_size\":2,\"n_iter\":3,\"seed\":10}");
            await("second batch running", WAIT, () -> {
                JsonNode s = forge.progress().get("state");
                return s.get("job_no").asInt() == 1 && s.get("sampling_step").asInt() >= 3;
            });

            SimClient.Reply interrupt = forge.post("/sdapi/v1/interrupt", "{}");
            SimClient.Reply reply = call.join();
            long elapsedMs = (System.nanoTime() - start) / 1_000_000;

            assertThat(interrupt.status()).isEqualTo(200);
            assertThat(interrupt.text()).isEqualTo("{}");
            assertThat(reply.status()).isEqualTo(200);
            assertThat(reply.imageCount())
                    .as("first batch complete + second batch partial, third skipped")
                    .isEqualTo(4);
            assertThat(reply.info().get("all_seeds"))
                    .as("seed lists cover every planned image")
                    .hasSize(6);
            assertThat(reply.info().get("infotexts")).hasSize(4);
            assertThat(elapsedMs).isLessThan(3 * 20 * 20);
            assertThat(forge.progress().get("state").get("interrupted").booleanValue())
                    .isTrue();
            assertThat(admin.stats().calls().interrupted()).isEqualTo(1);
        }
    }

    @Test
    void interruptBeforeTheFirstStepReturnsNoImages() {
        try (ForgeSimServer sim = startSim("--step-ms", "10", "--model-load-ms", "400")) {
            SimClient forge = new SimClient(sim.baseUrl());
            CompletableFuture<SimClient.Reply> call =
                    forge.txt2imgAsync("{\"steps\":10,\"width\":16,\"height\":16,\"n_iter\":2}");
            await(
                    "model loading",
                    WAIT,
                    () -> forge.progress().get("state").get("job_count").asInt() == -1);
            JsonNode loading = forge.progress();

            forge.post("/sdapi/v1/interrupt", "{}");
            SimClient.Reply reply = call.join();

            assertThat(loading.get("progress").doubleValue()).isEqualTo(0.01);
            assertThat(loading.get("state").get("job").stringValue()).isEqualTo("scripts_txt2img");
            assertThat(reply.status()).isEqualTo(200);
            assertThat(reply.imageCount()).isZero();
            assertThat(reply.info().get("infotexts"))
                    .as("Forge still reports one infotext")
                    .hasSize(1);
        }
    }

    @Test
    void anInterruptSentWhileIdleIsLostWhenTheNextJobBegins() {
        try (ForgeSimServer sim = startSim("--step-ms", "5", "--model-load-ms", "0")) {
            SimClient forge = new SimClient(sim.baseUrl());

            forge.post("/sdapi/v1/interrupt", "{}");
            JsonNode idle = forge.progress();
            SimClient.Reply reply = forge.txt2img("{\"steps\":5,\"width\":16,\"height\":16,\"batch_size\":2}");

            assertThat(idle.get("state").get("interrupted").booleanValue())
                    .as("the flag is set while idle")
                    .isTrue();
            assertThat(reply.imageCount()).isEqualTo(2);
            assertThat(forge.progress().get("state").get("interrupted").booleanValue())
                    .isFalse();
        }
    }

    @Test
    void anInterruptHitsTheRunningJobNeverTheQueuedOne() {
        try (ForgeSimServer sim = startSim("--step-ms", "20", "--model-load-ms", "0")) {
            SimClient forge = new SimClient(sim.baseUrl());
            ForgeSimAdmin admin = new ForgeSimAdmin(sim.adminUrl());
            admin.holdAtStep(2); // the first job stays on the GPU until it is interrupted
            CompletableFuture<SimClient.Reply> running =
                    forge.txt2imgAsync("{\"steps\":50,\"width\":16,\"height\":16,\"n_iter\":2}");
            await("first job running", WAIT, () -> admin.state().heldNow() == 1);
            CompletableFuture<SimClient.Reply> queued =
                    forge.txt2imgAsync("{\"steps\":5,\"width\":16,\"height\":16,\"n_iter\":2}");
            await("second call queued", WAIT, () -> admin.state().waiting() == 1);

            forge.post("/sdapi/v1/interrupt", "{}");

            assertThat(running.join().imageCount()).isEqualTo(1);
            admin.clearFaults(); // the second job stops at step 2 as well
            assertThat(queued.join().imageCount()).isEqualTo(2);
            assertThat(forge.progress().get("state").get("interrupted").booleanValue())
                    .isFalse();
        }
    }

    @Test
    void skipStopsOnlyTheCurrentBatch() {
        try (ForgeSimServer sim = startSim("--step-ms", "20", "--model-load-ms", "0")) {
            SimClient forge = new SimClient(sim.baseUrl());
            ForgeSimAdmin admin = new ForgeSimAdmin(sim.adminUrl());
            CompletableFuture<SimClient.Reply> call =
                    forge.txt2imgAsync("{\"steps\":20,\"width\":16,\"height\":16,\"n_iter\":2,\"seed\":3}");
            await("first batch running", WAIT, () -> {
                JsonNode s = forge.progress().get("state");
                return s.get("job_no").asInt() == 0 && s.get("sampling_step").asInt() >= 2;
            });

            SimClient.Reply skip = forge.post("/sdapi/v1/skip", "");
            SimClient.Reply reply = call.join();

            assertThat(skip.status()).isEqualTo(200);
            assertThat(skip.text()).isEqualTo("null");
            assertThat(reply.imageCount())
                    .as("partial first batch + full second batch")
                    .isEqualTo(2);
            assertThat(reply.info().get("infotexts").get(1).stringValue()).contains("Seed: 4,");
            JsonNode idle = forge.progress().get("state");
            assertThat(idle.get("skipped").booleanValue())
                    .as("cleared at the next batch")
                    .isFalse();
            assertThat(idle.get("interrupted").booleanValue()).isFalse();
            assertThat(idle.get("job_no").asInt()).isEqualTo(2);
            assertThat(admin.stats().calls().skipped()).isEqualTo(1);
        }
    }

    @Test
    void loadsACheckpointOnlyWhenItChanges() {
        try (ForgeSimServer sim = startSim("--step-ms", "0", "--model-load-ms", "300")) {
            SimClient forge = new SimClient(sim.baseUrl());
            ForgeSimAdmin admin = new ForgeSimAdmin(sim.adminUrl());
            String job = "{\"steps\":1,\"width\":16,\"height\":16}";
            String otherModel =
                    "{\"steps\":1,\"width\":16,\"height\":16,\"override_settings\":{\"sd_model_checkpoint\":\"v1-5-pruned-emaonly\"}}";

            long first = timeMs(() -> forge.txt2img(job));
            long second = timeMs(() -> forge.txt2img(job));
            long switched = timeMs(() -> forge.txt2img(otherModel));
            long back = timeMs(() -> forge.txt2img(job));

            assertThat(first).isGreaterThanOrEqualTo(300);
            assertThat(second).isLessThan(250);
            assertThat(switched).isGreaterThanOrEqualTo(300);
            assertThat(back).as("Forge keeps no checkpoint cache").isGreaterThanOrEqualTo(300);
            assertThat(admin.state().modelLoads()).isEqualTo(3);
        }
    }

    private static long timeMs(Runnable r) {
        long t = System.nanoTime();
        r.run();
        return (System.nanoTime() - t) / 1_000_000;
    }
}
