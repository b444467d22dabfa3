package io.forgequeue.worker.forge;

import static io.forgequeue.model.fixtures.JobSpecBuilder.aSpec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

import dev.failsafe.CircuitBreaker;
import dev.failsafe.CircuitBreakerOpenException;
import dev.failsafe.TimeoutExceededException;
import io.forgequeue.model.JobSpec;
import io.forgequeue.worker.forge.StubForge.Answer;
import io.forgequeue.worker.system.WireJson;
import io.forgequeue.worker.system.WorkerMetrics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.ServerSocket;
import java.net.URI;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The Forge client and its policies against an in-process HTTP stub (forge-api.md §11). */
class ForgeClientTest {

    private static final String TXT2IMG = "/sdapi/v1/txt2img";
    private static final String PROGRESS = "/sdapi/v1/progress";
    private static final String INTERRUPT = "/sdapi/v1/interrupt";
    private static final String TASK = "/internal/progress";
    private static final String IMAGE = TestImages.base64Png(8, 8, 0x336699);

    private final StubForge stub = new StubForge();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    /** No sampler, scheduler or checkpoint: nothing to check against Forge's lists. */
    private final JobSpec spec =
            aSpec().size(64, 64).steps(10).seed(5).sampler(null).scheduler(null).build();

    @AfterEach
    void stop() {
        stub.close();
    }

    private ForgeClient client(URI url, String user, String password, Duration callTimeout, Duration breakerDelay) {
        return client(new ForgeProperties(
                url,
                user,
                password,
                Duration.ofMillis(500),
                callTimeout,
                Duration.ofSeconds(1),
                Duration.ofSeconds(2),
                Duration.ofSeconds(5),
                new ForgeProperties.Retry(
                        2,
                        Duration.ofMillis(10),
                        Duration.ofMillis(40),
                        0.1,
                        Duration.ofMillis(10),
                        Duration.ofMillis(40)),
                new ForgeProperties.Breaker(5, breakerDelay, 1, Duration.ofMillis(50)),
                null));
    }

    private ForgeClient client(ForgeProperties props) {
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

    private ForgeClient client() {
        return client(stub.url(), null, null, Duration.ofSeconds(5), Duration.ofSeconds(30));
    }

    @Test
    void generatesImagesPairedWithTheirSeedsAndModel() {
        stub.answer(TXT2IMG, Answer.ok(StubForge.txt2img(IMAGE)));

        Txt2ImgResult result = client().generate(UUID.randomUUID(), spec, () -> false);

        assertThat(result.images()).hasSize(1);
        assertThat(result.images().get(0).data()).isEqualTo(Base64.getDecoder().decode(IMAGE));
        assertThat(result.images().get(0).seed()).isEqualTo(5L);
        assertThat(result.metadata()).containsEntry("sdModelName", "stub").containsKey("forgeMillis");
        assertThat(stub.requests(TXT2IMG).get(0).body())
                .contains("\"force_task_id\"")
                .contains("\"send_images\":true");
    }

    @Test
    void sendsBasicAuthOnEveryCallWhenCredentialsAreSet() {
        stub.answer(TXT2IMG, Answer.ok(StubForge.txt2img(IMAGE)));
        ForgeClient forge = client(stub.url(), "worker", "s3cr:et", Duration.ofSeconds(5), Duration.ofSeconds(30));

        forge.generate(UUID.randomUUID(), spec, () -> false);
        forge.progress(false);
        forge.probe();

        String expected = "Basic " + Base64.getEncoder().encodeToString("worker:s3cr:et".getBytes());
        assertThat(stub.requests())
                .hasSizeGreaterThanOrEqualTo(3)
                .allSatisfy(r -> assertThat(r.authorization()).isEqualTo(expected));
    }

    @Test
    void sendsNoAuthorizationHeaderWithoutCredentials() {
        client().progress(false);

        assertThat(stub.requests())
                .allSatisfy(r -> assertThat(r.authorization()).isNull());
    }

    @Test
    void retriesA500AndSucceeds() {
        stub.answer(
                TXT2IMG,
                new Answer(500, "{\"error\":\"RuntimeError\",\"message\":\"boom\"}", 0),
                Answer.ok(StubForge.txt2img(IMAGE)));

        Txt2ImgResult result = client().generate(UUID.randomUUID(), spec, () -> false);

        assertThat(result.images()).hasSize(1);
        assertThat(stub.requests(TXT2IMG)).hasSize(2);
        assertThat(registry.get("gpu.worker.forge.retries")
                        .tag("reason", "failure")
                        .counter()
                        .count())
                .isEqualTo(1);
    }

    @Test
    void givesUpOnA500AfterTwoRetries() {
        stub.answer(TXT2IMG, new Answer(500, "{\"error\":\"RuntimeError\",\"message\":\"boom\"}", 0));

        assertThatThrownBy(() -> client().generate(UUID.randomUUID(), spec, () -> false))
                .isInstanceOfSatisfying(
                        ForgeException.class, e -> assertThat(e.failure()).isEqualTo(ForgeFailure.SERVER_ERROR));
        assertThat(stub.requests(TXT2IMG)).hasSize(3);
    }

    @Test
    void neverRetriesAValidationErrorOrAnOutOfMemoryError() {
        stub.answer(TXT2IMG, new Answer(422, "{\"detail\":[{\"loc\":[\"body\",\"steps\"],\"msg\":\"bad\"}]}", 0));
        ForgeClient forge = client();

        assertThatThrownBy(() -> forge.generate(UUID.randomUUID(), spec, () -> false))
                .isInstanceOfSatisfying(
                        ForgeException.class, e -> assertThat(e.failure()).isEqualTo(ForgeFailure.REJECTED));
        stub.answer(TXT2IMG, new Answer(500, "{\"error\":\"OutOfMemoryError\",\"message\":\"CUDA out of memory\"}", 0));
        assertThatThrownBy(() -> forge.generate(UUID.randomUUID(), spec, () -> false))
                .isInstanceOfSatisfying(
                        ForgeException.class, e -> assertThat(e.failure()).isEqualTo(ForgeFailure.OUT_OF_MEMORY));

        assertThat(stub.requests(TXT2IMG)).hasSize(2);
        assertThat(forge.breakerState()).isEqualTo(CircuitBreaker.State.CLOSED);
    }

    @Test
    void retriesAnOutageUntilTheBreakerOpensThenProbesUntilForgeIsBack() throws Exception {
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        ForgeClient forge = client(
                URI.create("http://127.0.0.1:" + port), null, null, Duration.ofSeconds(5), Duration.ofMillis(300));

        assertThatThrownBy(() -> forge.generate(UUID.randomUUID(), spec, () -> false))
                .isInstanceOf(CircuitBreakerOpenException.class);
        assertThat(forge.breakerState()).isEqualTo(CircuitBreaker.State.OPEN);
        assertThat(registry.get("gpu.worker.forge.retries")
                        .tag("reason", "outage")
                        .counter()
                        .count())
                .isEqualTo(5);
        assertThat(registry.get("gpu.worker.forge.breaker.state").gauge().value())
                .isEqualTo(2.0);
        assertThat(forge.probe()).as("rejected while open, without a call").isFalse();

        Thread.sleep(400); // the breaker's delay is over: the next probe is the half-open trial call
        assertThat(forge.probe()).isFalse();
        assertThat(forge.breakerState())
                .as("a failed trial call opens it again")
                .isEqualTo(CircuitBreaker.State.OPEN);
        assertThat(registry.get("gpu.worker.forge.breaker.transitions")
                        .tag("state", "half_open")
                        .counter()
                        .count())
                .isEqualTo(1);
        assertThat(registry.get("gpu.worker.forge.breaker.transitions")
                        .tag("state", "open")
                        .counter()
                        .count())
                .isEqualTo(2);
    }

    @Test
    void closesTheBreakerWhenATrialProbeSucceeds() throws Exception {
        stub.answer(TXT2IMG, new Answer(503, "unavailable", 0));
        ForgeClient forge = client(stub.url(), null, null, Duration.ofSeconds(5), Duration.ofMillis(200));
        assertThatThrownBy(() -> forge.generate(UUID.randomUUID(), spec, () -> false))
                .isInstanceOf(CircuitBreakerOpenException.class);
        assertThat(stub.requests(TXT2IMG)).hasSize(5);

        await().atMost(Duration.ofSeconds(5))
                .pollInterval(Duration.ofMillis(50))
                .until(forge::probe);

        assertThat(forge.breakerState()).isEqualTo(CircuitBreaker.State.CLOSED);
        assertThat(registry.get("gpu.worker.forge.breaker.state").gauge().value())
                .isZero();
    }

    @Test
    void timesOutAHangingCallThenInterruptsItWhileForgeStillRunsItAndWaitsForForgeToBeIdleBeforeTheNextCall() {
        stub.answer(TXT2IMG, new Answer(200, StubForge.txt2img(IMAGE), 2_000));
        ForgeClient forge = client(stub.url(), null, null, Duration.ofMillis(300), Duration.ofSeconds(30));

        assertThatThrownBy(() -> forge.generate(UUID.randomUUID(), spec, () -> false))
                .isInstanceOf(TimeoutExceededException.class);
        assertThat(stub.requests(TXT2IMG)).as("a call timeout is not retried").hasSize(1);

        stub.answer(
                PROGRESS,
                Answer.ok(StubForge.progress(1)),
                Answer.ok(StubForge.progress(1)),
                Answer.ok(StubForge.progress(0)));
        stub.answer(TASK, Answer.ok(StubForge.taskProgress(true))); // Forge says: the abandoned task runs
        stub.answer(TXT2IMG, Answer.ok(StubForge.txt2img(IMAGE)));
        int before = stub.requests().size();
        Txt2ImgResult result = forge.generate(UUID.randomUUID(), spec, () -> false);

        assertThat(result.images()).hasSize(1);
        List<String> calls = stub.requests().subList(before, stub.requests().size()).stream()
                .map(StubForge.Request::path)
                .toList();
        assertThat(calls).containsExactly(PROGRESS, TASK, INTERRUPT, PROGRESS, TASK, PROGRESS, TXT2IMG, PROGRESS);
        assertThat(stub.requests(TASK).get(0).body())
                .as("asks about the abandoned request's own task")
                .contains(taskIdOf(stub.requests(TXT2IMG).get(0)));
    }

    /** Issue 19: one user's jobs that outlast the call timeout must not pause the worker for everyone. */
    @Test
    void failsAJobThatOutlastsTheCallTimeoutAtOnceWithoutCountingItAgainstForge() {
        stub.answer(TXT2IMG, new Answer(200, StubForge.txt2img(IMAGE), 1_000));
        ForgeClient forge = client(stub.url(), null, null, Duration.ofMillis(200), Duration.ofSeconds(30));

        for (int job = 0; job < 7; job++) {
            assertThatThrownBy(() -> forge.generate(UUID.randomUUID(), spec, () -> false))
                    .isInstanceOf(TimeoutExceededException.class);
        }

        // the stub records an abandoned request when its handler runs, which may be just after the client gave up
        await().atMost(Duration.ofSeconds(5)).until(() -> stub.requests(TXT2IMG).size() >= 7);
        assertThat(stub.requests(TXT2IMG))
                .as("one call per job, never retried at full length")
                .hasSize(7);
        assertThat(forge.breakerState())
                .as("more timeouts than the breaker's threshold (5)")
                .isEqualTo(CircuitBreaker.State.CLOSED);
        assertThat(registry.get("gpu.worker.forge.retries")
                        .tag("reason", "failure")
                        .counter()
                        .count())
                .isZero();
    }

    /** Issue 19: a proxy's 408 or the read backstop on a txt2img is the job's timeout too. */
    @Test
    void treatsATimeoutAnswerToTheTxt2imgCallAsTheJobsOwnTimeout() {
        stub.answer(TXT2IMG, new Answer(408, "request timeout", 0));
        ForgeClient forge = client();

        for (int job = 0; job < 6; job++) {
            assertThatThrownBy(() -> forge.generate(UUID.randomUUID(), spec, () -> false))
                    .isInstanceOfSatisfying(
                            ForgeException.class, e -> assertThat(e.failure()).isEqualTo(ForgeFailure.CALL_TIMEOUT));
        }

        assertThat(stub.requests(TXT2IMG)).hasSize(6);
        assertThat(forge.breakerState()).isEqualTo(CircuitBreaker.State.CLOSED);
    }

    /** Issue 19: the breaker still opens for a Forge that hangs: it does not even answer its progress calls. */
    @Test
    void opensTheBreakerWhenForgeStopsAnsweringItsProgressCalls() {
        stub.answer(PROGRESS, new Answer(200, StubForge.progress(0), 3_000));
        ForgeClient forge = client(stub.url(), null, null, Duration.ofSeconds(5), Duration.ofSeconds(30));

        Throwable last = null;
        for (int job = 0; job < 3 && !(last instanceof CircuitBreakerOpenException); job++) {
            last = catchThrowable(() -> forge.generate(UUID.randomUUID(), spec, () -> false));
        }

        assertThat(last).isInstanceOf(CircuitBreakerOpenException.class);
        assertThat(forge.breakerState()).isEqualTo(CircuitBreaker.State.OPEN);
        assertThat(stub.requests(TXT2IMG)).isEmpty();
    }

    /** Issue 15: after a timeout, a busy Forge may be running another client's job, e.g. another worker's retry. */
    @Test
    void neverInterruptsAJobThatIsNotProvablyItsAbandonedCallAndWaitsForItInstead() {
        stub.answer(TXT2IMG, new Answer(200, StubForge.txt2img(IMAGE), 2_000));
        ForgeClient forge = client(stub.url(), null, null, Duration.ofMillis(300), Duration.ofSeconds(30));
        assertThatThrownBy(() -> forge.generate(UUID.randomUUID(), spec, () -> false))
                .isInstanceOf(TimeoutExceededException.class);

        stub.answer(
                PROGRESS,
                Answer.ok(StubForge.progress(1)),
                Answer.ok(StubForge.progress(1)),
                Answer.ok(StubForge.progress(0)));
        stub.answer(TASK, Answer.ok(StubForge.taskProgress(false))); // ours waits: another task holds the lock
        stub.answer(TXT2IMG, Answer.ok(StubForge.txt2img(IMAGE)));
        int before = stub.requests().size();
        Txt2ImgResult result = forge.generate(UUID.randomUUID(), spec, () -> false);

        assertThat(result.images()).hasSize(1);
        List<String> calls = stub.requests().subList(before, stub.requests().size()).stream()
                .map(StubForge.Request::path)
                .toList();
        assertThat(calls).containsExactly(PROGRESS, TASK, PROGRESS, TASK, PROGRESS, TXT2IMG, PROGRESS);
        assertThat(foreign("interrupt_withheld")).isEqualTo(1);
        assertThat(foreign("busy_wait")).isEqualTo(1);
        assertThat(registry.get("gpu.worker.forge.busy.wait").timer().count()).isEqualTo(1);
        assertThat(registry.get("gpu.worker.forge.busy.waiting").gauge().value())
                .isZero();
    }

    @Test
    void givesUpWaitingForABusyForgeAfterTheBusyTimeout() {
        stub.answer(PROGRESS, Answer.ok(StubForge.progress(1)));
        ForgeProperties props = new ForgeProperties(
                stub.url(),
                null,
                null,
                Duration.ofMillis(500),
                Duration.ofSeconds(5),
                Duration.ofSeconds(1),
                Duration.ofSeconds(2),
                Duration.ofMillis(300),
                new ForgeProperties.Retry(
                        2,
                        Duration.ofMillis(10),
                        Duration.ofMillis(40),
                        0.1,
                        Duration.ofMillis(10),
                        Duration.ofMillis(40)),
                new ForgeProperties.Breaker(5, Duration.ofSeconds(30), 1, Duration.ofMillis(50)),
                null);
        ForgeClient forge = client(props);

        assertThatThrownBy(() -> forge.generate(UUID.randomUUID(), spec, () -> false))
                .isInstanceOfSatisfying(
                        ForgeBusyException.class,
                        e -> assertThat(e.waited()).isGreaterThanOrEqualTo(Duration.ofMillis(300)));

        assertThat(stub.requests(TXT2IMG)).isEmpty();
        assertThat(stub.requests(INTERRUPT)).isEmpty();
        assertThat(foreign("busy_timeout")).isEqualTo(1);
        assertThat(forge.breakerState()).as("a busy Forge is not a broken one").isEqualTo(CircuitBreaker.State.CLOSED);
    }

    @Test
    void stopsWaitingForABusyForgeWhenTheJobIsStopped() {
        stub.answer(PROGRESS, Answer.ok(StubForge.progress(1)));
        ForgeClient forge = client();
        AtomicBoolean stop = new AtomicBoolean();

        CompletableFuture<Txt2ImgResult> waiting =
                CompletableFuture.supplyAsync(() -> forge.generate(UUID.randomUUID(), spec, stop::get));
        await().atMost(Duration.ofSeconds(5))
                .until(() ->
                        registry.get("gpu.worker.forge.busy.waiting").gauge().value() == 1.0);
        stop.set(true);

        assertThatThrownBy(() -> waiting.get(5, TimeUnit.SECONDS)).hasCauseInstanceOf(CallStoppedException.class);
        assertThat(stub.requests(TXT2IMG)).isEmpty();
        assertThat(registry.get("gpu.worker.forge.busy.waiting").gauge().value())
                .isZero();
    }

    private static String taskIdOf(StubForge.Request txt2img) {
        int at = txt2img.body().indexOf("\"force_task_id\":\"") + "\"force_task_id\":\"".length();
        return txt2img.body().substring(at, txt2img.body().indexOf('"', at));
    }

    private double foreign(String event) {
        return registry.get("gpu.worker.forge.foreign")
                .tag("event", event)
                .counter()
                .count();
    }

    @Test
    void interruptsOnlyWhileItsOwnCallIsInFlightAndForgeRunsIt() throws Exception {
        ForgeClient forge = client();

        assertThat(forge.interruptOwnCall()).as("no call in flight").isFalse();
        assertThat(stub.requests(INTERRUPT)).isEmpty();

        stub.answer(TXT2IMG, Answer.ok(StubForge.txt2img(IMAGE)));
        CountDownLatch answer = stub.hold(TXT2IMG);
        CompletableFuture<Txt2ImgResult> running =
                CompletableFuture.supplyAsync(() -> forge.generate(UUID.randomUUID(), spec, () -> false));
        await().atMost(Duration.ofSeconds(5)).until(forge::isCallInFlight);
        stub.answer(PROGRESS, Answer.ok(StubForge.progress(0)));
        assertThat(forge.interruptOwnCall()).as("Forge idle (job_count 0)").isFalse();
        assertThat(stub.requests(INTERRUPT)).isEmpty();

        stub.answer(PROGRESS, Answer.ok(StubForge.progress(1)));
        assertThat(forge.interruptOwnCall())
                .as("API-only mode: the one job since Forge was idle")
                .isTrue();
        assertThat(stub.requests(INTERRUPT)).hasSize(1);
        answer.countDown();
        Txt2ImgResult result = running.get(5, TimeUnit.SECONDS);
        assertThat(result.images()).hasSize(1);
        assertThat(result.interruptedElsewhere()).as("our own interrupt").isFalse();
    }

    @Test
    void withTaskProgressInterruptsOnlyWhenForgeSaysOurTaskIsTheActiveOne() throws Exception {
        stub.answer(TASK, Answer.ok(StubForge.taskProgress(false)));
        stub.answer(TXT2IMG, Answer.ok(StubForge.txt2img(IMAGE)));
        CountDownLatch answer = stub.hold(TXT2IMG);
        ForgeClient forge = client();
        CompletableFuture<Txt2ImgResult> running =
                CompletableFuture.supplyAsync(() -> forge.generate(UUID.randomUUID(), spec, () -> false));
        await().atMost(Duration.ofSeconds(5)).until(forge::isCallInFlight);
        stub.answer(PROGRESS, Answer.ok(StubForge.progress(1)));

        assertThat(forge.interruptOwnCall())
                .as("ours waits in Forge's queue: the running job is another's")
                .isFalse();
        assertThat(forge.ownProgress(false)).isEmpty();
        stub.answer(TASK, Answer.ok(StubForge.taskProgress(true)));
        assertThat(forge.ownProgress(false))
                .hasValueSatisfying(p -> assertThat(p.percent()).isEqualTo(50));
        assertThat(forge.interruptOwnCall()).isTrue();
        answer.countDown();

        assertThat(stub.requests(INTERRUPT)).hasSize(1);
        assertThat(running.get(5, TimeUnit.SECONDS).interruptedElsewhere()).isFalse();
        assertThat(foreign("interrupt_withheld")).isEqualTo(1);
        assertThat(foreign("progress_withheld")).isEqualTo(1);
    }

    @Test
    void reportsAGenerationThatCameBackWithoutAnyImageAsInterruptedElsewhere() {
        stub.answer(TXT2IMG, Answer.ok(StubForge.txt2img()));

        Txt2ImgResult result = client().generate(UUID.randomUUID(), spec, () -> false);

        assertThat(result.images()).isEmpty();
        assertThat(result.interruptedElsewhere()).isTrue();
        assertThat(foreign("interrupted")).isEqualTo(1);
    }

    @Test
    void exposesTheForgeIdentity() {
        ForgeClient forge = client(
                URI.create("http://forge.example.org:7861/"), "u", "p", Duration.ofSeconds(5), Duration.ofSeconds(30));

        assertThat(forge.forgeIdentity().value()).isEqualTo("http://forge.example.org:7861");
    }

    @Test
    void refusesASamplerSchedulerOrCheckpointForgeWouldSilentlyReplace() {
        stub.answer("/sdapi/v1/samplers", Answer.ok("[{\"name\":\"Euler a\",\"aliases\":[\"k_euler_a\"]}]"));
        stub.answer("/sdapi/v1/schedulers", Answer.ok("[{\"name\":\"karras\",\"label\":\"Karras\"}]"));
        stub.answer(
                "/sdapi/v1/sd-models",
                Answer.ok("[{\"title\":\"sdxl/juggernautXL.safetensors [abcdef0123]\","
                        + "\"model_name\":\"sdxl_juggernautXL\",\"hash\":\"abcdef0123\",\"sha256\":null,"
                        + "\"filename\":\"/models/sdxl/juggernautXL.safetensors\"}]"));
        stub.answer(TXT2IMG, Answer.ok(StubForge.txt2imgRan("juggernautXL", "abcdef0123", IMAGE)));
        ForgeClient forge = client();

        assertThatThrownBy(() -> forge.generate(
                        UUID.randomUUID(), aSpec().sampler("k_euler_a").build(), () -> false))
                .isInstanceOfSatisfying(ForgeException.class, e -> {
                    assertThat(e.failure()).isEqualTo(ForgeFailure.REJECTED);
                    assertThat(e.forgeMessage()).startsWith("unknown sampler 'k_euler_a' (available: Euler a)");
                });
        assertThatThrownBy(() -> forge.generate(
                        UUID.randomUUID(),
                        aSpec().sampler(null).scheduler("Beta").build(),
                        () -> false))
                .isInstanceOf(ForgeException.class);
        assertThatThrownBy(() -> forge.generate(
                        UUID.randomUUID(),
                        aSpec().sampler(null)
                                .scheduler(null)
                                .checkpoint("juggernautXL_v9")
                                .build(),
                        () -> false))
                .isInstanceOf(ForgeException.class);
        assertThat(stub.requests(TXT2IMG)).isEmpty();

        for (String alias : List.of(
                "sdxl/juggernautXL.safetensors",
                "sdxl/juggernautXL.safetensors [abcdef0123]",
                "sdxl_juggernautXL",
                "juggernautXL",
                "abcdef0123")) {
            forge.generate(
                    UUID.randomUUID(),
                    aSpec().sampler("Euler a Karras")
                            .scheduler("karras")
                            .checkpoint(alias)
                            .build(),
                    () -> false);
        }
        assertThat(stub.requests(TXT2IMG)).hasSize(5);
        assertThat(stub.requests("/sdapi/v1/samplers")).as("lists cached").hasSize(1);
    }

    @Test
    void failsAModelMismatchAtOnceWhenForgeRefusesToLoadTheRequestedModel() {
        stub.answer("/sdapi/v1/samplers", Answer.ok("[{\"name\":\"Euler a\"}]"));
        stub.answer("/sdapi/v1/schedulers", Answer.ok("[{\"name\":\"karras\",\"label\":\"Karras\"}]"));
        stub.answer(
                "/sdapi/v1/sd-models",
                Answer.ok("[{\"title\":\"a.safetensors [aaaaaaaaaa]\",\"model_name\":\"a\","
                        + "\"hash\":\"aaaaaaaaaa\"},{\"title\":\"b.safetensors [bbbbbbbbbb]\",\"model_name\":\"b\","
                        + "\"hash\":\"bbbbbbbbbb\"}]"));
        stub.answer(TXT2IMG, Answer.ok(StubForge.txt2imgRan("a", "aaaaaaaaaa", IMAGE)));
        stub.answer(
                "/sdapi/v1/options",
                new Answer(
                        500,
                        "{\"error\":\"RuntimeError\",\"detail\":\"\",\"body\":\"\",\"message\":\"model 'b' not found\"}",
                        0));

        assertThatThrownBy(() -> client().generate(
                                UUID.randomUUID(),
                                aSpec().sampler(null)
                                        .scheduler(null)
                                        .checkpoint("b")
                                        .build(),
                                () -> false))
                .isInstanceOfSatisfying(ModelMismatchException.class, e -> {
                    assertThat(e.userMessage()).isEqualTo("The GPU server used model a instead of b.");
                    assertThat(e.forgeMessage()).contains("model 'b' not found");
                });
        assertThat(stub.requests("/sdapi/v1/options").get(0).body()).isEqualTo("{\"sd_model_checkpoint\":\"b\"}");
        assertThat(stub.requests(TXT2IMG))
                .as("no retry of a model Forge cannot load")
                .hasSize(1);
        assertThat(registry.get("gpu.worker.model.mismatch")
                        .tag("outcome", "failed")
                        .counter()
                        .count())
                .isEqualTo(1);
        assertThat(registry.get("gpu.worker.model.mismatch")
                        .tag("outcome", "retried")
                        .counter()
                        .count())
                .isZero();
    }

    @Test
    void doesNotHoldJobsUpWhenForgeHasNoCatalogLists() {
        stub.answer(TXT2IMG, Answer.ok(StubForge.txt2img(IMAGE)));
        ForgeClient forge = client();

        forge.generate(UUID.randomUUID(), aSpec().sampler("Whatever").build(), () -> false);
        forge.generate(UUID.randomUUID(), aSpec().sampler("Whatever").build(), () -> false);

        assertThat(stub.requests(TXT2IMG)).hasSize(2);
        assertThat(stub.requests("/sdapi/v1/samplers"))
                .as("not asked again at once")
                .hasSize(1);
    }

    @Test
    void makesNoCallWhenTheJobIsStoppedBeforeAnAttempt() {
        assertThatThrownBy(() -> client().generate(UUID.randomUUID(), spec, () -> true))
                .isInstanceOf(CallStoppedException.class);
        assertThat(stub.requests(TXT2IMG)).isEmpty();
    }

    @Test
    void readsProgressAsAHintAndReturnsNothingWhenForgeDoesNotAnswer() {
        stub.answer(PROGRESS, Answer.ok(StubForge.progress(1)));

        ProgressSnapshot s = client().progress(false).orElseThrow();

        assertThat(s.jobCount()).isEqualTo(1);
        assertThat(s.samplingStep()).isEqualTo(5);
        assertThat(s.samplingSteps()).isEqualTo(10);
        assertThat(s.busy()).isTrue();
        assertThat(stub.requests(PROGRESS).get(0)).isNotNull();
        stub.answer(PROGRESS, new Answer(500, "oops", 0));
        assertThat(client().progress(false)).isEmpty();
    }
}
