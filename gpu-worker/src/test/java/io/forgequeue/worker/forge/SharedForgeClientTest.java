package io.forgequeue.worker.forge;

import static io.forgequeue.model.fixtures.JobSpecBuilder.aSpec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.failsafe.CircuitBreaker;
import dev.failsafe.CircuitBreakerOpenException;
import dev.failsafe.TimeoutExceededException;
import io.forgequeue.forgesim.ForgeSimAdmin;
import io.forgequeue.forgesim.ForgeSimAdmin.ForeignJob;
import io.forgequeue.forgesim.ForgeSimServer;
import io.forgequeue.forgesim.SimConfig;
import io.forgequeue.model.JobSpec;
import io.forgequeue.worker.system.WireJson;
import io.forgequeue.worker.system.WorkerMetrics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Issue 15, item 4: one Forge shared with other clients (a person in its web UI, another API client, a second
 * worker), against an in-process forge-sim whose states are held through its admin API, never timed. Each scenario
 * runs in both of Forge's modes where they differ: WebUI ({@code /internal/progress} for the request's
 * {@code force_task_id}) and API-only ({@code --nowebui}, only the global progress state).
 */
class SharedForgeClientTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    /** The same steps as the other client's jobs: the worst case for telling jobs apart by their state. */
    private static final int STEPS = 10;

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final JobSpec spec = aSpec().size(64, 64)
            .steps(STEPS)
            .seed(5)
            .sampler(null)
            .scheduler(null)
            .build();
    private final HttpClient http = HttpClient.newHttpClient();
    private ForgeSimServer sim;
    private ForgeSimAdmin admin;

    @AfterEach
    void stop() {
        if (sim != null) {
            sim.close();
        }
    }

    private ForgeClient start(boolean webui, Duration callTimeout, Duration breakerDelay) throws Exception {
        sim = ForgeSimServer.start(SimConfig.fromArgs(
                "--port", "0", "--step-ms", "0", "--model-load-ms", "0", "--preview-every", "1", "--webui=" + webui));
        admin = new ForgeSimAdmin(sim.adminUrl());
        ForgeProperties props = new ForgeProperties(
                sim.baseUrl(),
                null,
                null,
                Duration.ofMillis(500),
                callTimeout,
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
                new ForgeProperties.Breaker(5, breakerDelay, 1, Duration.ofMillis(50)),
                null);
        WorkerMetrics metrics = new WorkerMetrics(registry);
        ForgeConfiguration config = new ForgeConfiguration();
        CircuitBreaker<Object> breaker = config.forgeCircuitBreaker(props, metrics);
        return config.forgeClient(
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

    private ForgeClient start(boolean webui) throws Exception {
        return start(webui, Duration.ofSeconds(10), Duration.ofSeconds(30));
    }

    private CompletableFuture<Txt2ImgResult> generateAsync(ForgeClient forge) {
        return CompletableFuture.supplyAsync(() -> forge.generate(UUID.randomUUID(), spec, () -> false));
    }

    @ParameterizedTest(name = "webui={0}")
    @ValueSource(booleans = {true, false})
    void waitsWhileAnotherClientsJobRunsAndSendsItsTxt2imgOnlyOnceForgeIsIdle(boolean webui) throws Exception {
        ForgeClient forge = start(webui);
        admin.startForeignJob(ForeignJob.ui("a person's castle", STEPS).heldAtStep(3));
        await().atMost(WAIT).until(() -> admin.state().heldNow() == 1);

        CompletableFuture<Txt2ImgResult> mine = generateAsync(forge);
        await().atMost(WAIT).until(() -> gauge("gpu.worker.forge.busy.waiting") == 1.0);

        assertThat(admin.state().calls().received())
                .as("our txt2img is not sent")
                .isEqualTo(1);
        assertThat(forge.isCallInFlight()).isFalse();
        assertThat(forge.ownProgress(true)).isEmpty();
        assertThat(foreign("busy_wait")).isEqualTo(1);
        admin.release();
        Txt2ImgResult result = mine.get(10, TimeUnit.SECONDS);

        assertThat(result.images()).hasSize(1);
        assertThat(result.interruptedElsewhere()).isFalse();
        assertThat(admin.stats().calls().interrupted())
                .as("the other job ran to its end")
                .isZero();
        assertThat(gauge("gpu.worker.forge.busy.waiting")).isZero();
        assertThat(registry.get("gpu.worker.forge.busy.wait").timer().count()).isEqualTo(1);
    }

    /**
     * The reported case: our request is already outstanding (here: hung before Forge's lock) when another client's
     * job runs. Its progress and preview are never ours, and a cancel must not interrupt it. With /internal/progress
     * even a job just like ours is told apart; in API-only mode it takes a difference in its state (here its steps,
     * as the reported 60 vs 80).
     */
    @ParameterizedTest(name = "webui={0}")
    @ValueSource(booleans = {true, false})
    void neverReportsOrInterruptsAnotherClientsJobWhileItsOwnRequestWaits(boolean webui) throws Exception {
        ForgeClient forge = start(webui);
        admin.hangNext(1);
        CompletableFuture<Txt2ImgResult> mine = generateAsync(forge);
        await().atMost(WAIT).until(() -> admin.state().hungNow() == 1);
        admin.startForeignJob(
                ForeignJob.api("someone else's cat", webui ? STEPS : 80).heldAtStep(4));
        await().atMost(WAIT).until(() -> admin.state().heldNow() == 1);

        Optional<OwnProgress> whileOtherRuns = forge.ownProgress(true);
        boolean interrupted = forge.interruptOwnCall();

        assertThat(forge.isCallInFlight()).isTrue();
        assertThat(whileOtherRuns).as("another client's progress and preview").isEmpty();
        assertThat(interrupted).isFalse();
        assertThat(globalState().path("state").path("interrupted").asBoolean())
                .as("the other job untouched")
                .isFalse();
        assertThat(foreign("progress_withheld")).isEqualTo(1);
        assertThat(foreign("interrupt_withheld")).isEqualTo(1);

        admin.holdNext(1, 3); // ours, once it runs
        admin.release();
        await().atMost(WAIT)
                .until(() -> admin.state().heldNow() == 1 && admin.state().foreignRunning() == 0);
        Optional<OwnProgress> whileOursRuns = forge.ownProgress(true);
        if (webui) {
            assertThat(whileOursRuns)
                    .as("Forge says our task is the active one")
                    .hasValueSatisfying(p -> {
                        assertThat(p.percent()).isEqualTo(20); // 0-based step 2 of 10
                        assertThat(p.preview()).isNotEmpty();
                    });
        } else {
            assertThat(whileOursRuns)
                    .as("API-only: two jobs during one request cannot be told apart; nothing "
                            + "is reported rather than the wrong one")
                    .isEmpty();
        }
        admin.release();
        assertThat(mine.get(10, TimeUnit.SECONDS).interruptedElsewhere()).isFalse();
        assertThat(admin.stats().calls().interrupted()).isZero();
    }

    @ParameterizedTest(name = "webui={0}")
    @ValueSource(booleans = {true, false})
    void reportsItsOwnProgressAndPreviewWhileForgeRunsItsRequest(boolean webui) throws Exception {
        ForgeClient forge = start(webui);
        admin.holdNext(1, 5);
        CompletableFuture<Txt2ImgResult> mine = generateAsync(forge);
        await().atMost(WAIT).until(() -> admin.state().heldNow() == 1);

        Optional<OwnProgress> progress = forge.ownProgress(true);

        assertThat(progress).hasValueSatisfying(p -> {
            assertThat(p.step()).isEqualTo(4); // 0-based: five steps done
            assertThat(p.steps()).isEqualTo(STEPS);
            assertThat(p.percent()).isBetween(40, 41); // API-only mode adds Forge's 0.01
            assertThat(ImageFormat.detect(p.preview()).mimeType()).isEqualTo("image/png");
        });
        admin.release();
        assertThat(mine.get(10, TimeUnit.SECONDS).images()).hasSize(1);
        assertThat(foreign("progress_withheld")).isZero();
    }

    @ParameterizedTest(name = "webui={0}")
    @ValueSource(booleans = {true, false})
    void reportsAGenerationSomeoneElseInterruptedSoItsUnfinishedImagesAreNotTheResult(boolean webui) throws Exception {
        ForgeClient forge = start(webui);
        admin.interruptNext(1, 3); // as a person pressing Interrupt in the web UI at step 3

        Txt2ImgResult result = forge.generate(UUID.randomUUID(), spec, () -> false);

        assertThat(result.images())
                .as("Forge answers 200 with the unfinished image")
                .hasSize(1);
        assertThat(result.interruptedElsewhere()).isTrue();
        assertThat(foreign("interrupted")).isEqualTo(1);
        assertThat(forge.generate(UUID.randomUUID(), spec, () -> false).interruptedElsewhere())
                .as("the next generation is not")
                .isFalse();
    }

    /**
     * The flags of our job are reset as soon as the next client's job begins, before our answer arrives: what was
     * seen while our request was outstanding still counts.
     */
    @ParameterizedTest(name = "webui={0}")
    @ValueSource(booleans = {true, false})
    void seesAnOutsideInterruptEvenWhenTheNextClientsJobResetsTheFlagsBeforeTheAnswer(boolean webui) throws Exception {
        ForgeClient forge = start(webui);
        admin.holdNext(1, 3);
        CompletableFuture<Txt2ImgResult> mine = generateAsync(forge);
        await().atMost(WAIT).until(() -> admin.state().heldNow() == 1);
        assertThat(forge.ownProgress(false)).isPresent();
        admin.startForeignJob(ForeignJob.api("next in line", STEPS).heldAtStep(1));
        await().atMost(WAIT).until(() -> admin.state().waiting() == 1);

        post("/sdapi/v1/interrupt");
        forge.ownProgress(false); // the poller's next look
        admin.release();
        await().atMost(WAIT)
                .until(() -> admin.state().heldNow() == 1 && admin.state().foreignRunning() == 1 && mine.isDone());

        assertThat(globalState().path("state").path("interrupted").asBoolean())
                .as("flags reset")
                .isFalse();
        assertThat(mine.get().interruptedElsewhere()).isTrue();
        admin.release();
    }

    @Test
    void reportsAGenerationInterruptedBeforeItsFirstStepAsInterruptedElsewhere() throws Exception {
        ForgeClient forge = start(false);
        admin.interruptNext(1, 0);

        Txt2ImgResult result = forge.generate(UUID.randomUUID(), spec, () -> false);

        assertThat(result.images()).isEmpty();
        assertThat(result.interruptedElsewhere()).isTrue();
    }

    @ParameterizedTest(name = "webui={0}")
    @ValueSource(booleans = {true, false})
    void itsOwnCancelInterruptsItsOwnJobAndIsNotTakenForSomeoneElses(boolean webui) throws Exception {
        ForgeClient forge = start(webui);
        admin.holdNext(1, 3);
        CompletableFuture<Txt2ImgResult> mine = generateAsync(forge);
        await().atMost(WAIT).until(() -> admin.state().heldNow() == 1);

        assertThat(forge.interruptOwnCall()).isTrue();
        admin.release();
        Txt2ImgResult result = mine.get(10, TimeUnit.SECONDS);

        assertThat(result.interruptedElsewhere()).isFalse();
        assertThat(admin.stats().calls().interrupted()).isEqualTo(1);
        assertThat(foreign("interrupt_withheld")).isZero();
    }

    @ParameterizedTest(name = "webui={0}")
    @ValueSource(booleans = {true, false})
    void aTimedOutCallFailsItsJobAndTheNextCallInterruptsTheAbandonedRequestForgeStillRuns(boolean webui)
            throws Exception {
        ForgeClient forge = start(webui, Duration.ofSeconds(3), Duration.ofSeconds(30));
        admin.holdNext(1, 2);
        CompletableFuture<Txt2ImgResult> job = generateAsync(forge);
        await().atMost(WAIT).until(() -> admin.state().heldNow() == 1);
        assertThat(forge.ownProgress(false))
                .as("seen as ours while outstanding")
                .isPresent();

        // the call times out: the job fails (a call timeout is the job's, not retried at full length)
        assertThatThrownBy(() -> job.get(10, TimeUnit.SECONDS)).hasCauseInstanceOf(TimeoutExceededException.class);
        assertThat(admin.state().calls().received()).as("not sent again").isEqualTo(1);
        assertThat(admin.state().heldNow())
                .as("Forge still runs the abandoned request")
                .isEqualTo(1);

        // the next job finds it still running and interrupts it before sending its own txt2img
        CompletableFuture<Txt2ImgResult> next = generateAsync(forge);
        await().atMost(WAIT)
                .until(() -> globalState().path("state").path("interrupted").asBoolean());
        admin.release();

        Txt2ImgResult result = next.get(10, TimeUnit.SECONDS);
        assertThat(result.images()).hasSize(1);
        assertThat(result.interruptedElsewhere()).isFalse();
        assertThat(admin.stats().calls().interrupted())
                .as("our abandoned request")
                .isEqualTo(1);
        assertThat(foreign("interrupt_withheld")).isZero();
    }

    /**
     * The reported case: after a Forge outage the job a recovering worker finds running is another worker's retry,
     * not its own abandoned request (that one died with Forge). It waits for it instead of interrupting it.
     */
    @ParameterizedTest(name = "webui={0}")
    @ValueSource(booleans = {true, false})
    void afterAnOutageNeverInterruptsAnotherClientsJobTakenForItsAbandonedRequest(boolean webui) throws Exception {
        ForgeClient forge = start(webui, Duration.ofSeconds(10), Duration.ofMillis(200));
        admin.holdNext(1, 2);
        CompletableFuture<Txt2ImgResult> first = generateAsync(forge);
        await().atMost(WAIT).until(() -> admin.state().heldNow() == 1);
        forge.ownProgress(false);
        admin.goDown();
        assertThatThrownBy(() -> first.get(10, TimeUnit.SECONDS)).hasCauseInstanceOf(CircuitBreakerOpenException.class);
        admin.comeUp();
        admin.startForeignJob(ForeignJob.api("another worker's retry", STEPS).heldAtStep(2));
        await().atMost(WAIT).until(() -> admin.state().heldNow() == 1);
        await().atMost(WAIT).until(forge::probe); // the breaker closes

        CompletableFuture<Txt2ImgResult> next = generateAsync(forge);
        await().atMost(WAIT).until(() -> foreign("busy_wait") == 1);
        assertThat(globalState().path("state").path("interrupted").asBoolean()).isFalse();
        admin.release();

        assertThat(next.get(10, TimeUnit.SECONDS).images()).hasSize(1);
        assertThat(admin.stats().calls().interrupted())
                .as("the other worker's retry ran to its end")
                .isZero();
    }

    private double foreign(String event) {
        return registry.get("gpu.worker.forge.foreign")
                .tag("event", event)
                .counter()
                .count();
    }

    private double gauge(String name) {
        return registry.get(name).gauge().value();
    }

    private tools.jackson.databind.JsonNode globalState() throws Exception {
        HttpResponse<String> r = http.send(
                HttpRequest.newBuilder(URI.create(sim.baseUrl() + "/sdapi/v1/progress?skip_current_image=true"))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        return new WireJson().mapper().readTree(r.body());
    }

    private void post(String path) throws Exception {
        HttpResponse<String> r = http.send(
                HttpRequest.newBuilder(URI.create(sim.baseUrl() + path))
                        .POST(HttpRequest.BodyPublishers.noBody())
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
    }
}
