package io.forgequeue.worker;

import com.rabbitmq.client.GetResponse;
import dev.failsafe.CircuitBreaker;
import io.forgequeue.forgesim.ForgeSimAdmin;
import io.forgequeue.forgesim.ForgeSimProcess;
import io.forgequeue.model.ErrorCode;
import io.forgequeue.model.EventType;
import io.forgequeue.model.GeneratedImage;
import io.forgequeue.model.JobCancelled;
import io.forgequeue.model.JobEvent;
import io.forgequeue.model.JobFailed;
import io.forgequeue.model.JobPreview;
import io.forgequeue.model.JobProgressed;
import io.forgequeue.model.JobRequeued;
import io.forgequeue.model.JobSpec;
import io.forgequeue.model.JobStarted;
import io.forgequeue.worker.system.WorkerMetrics;
import io.forgequeue.model.JobSucceeded;
import io.forgequeue.model.Topology;
import io.forgequeue.testsupport.AppLogs;
import io.forgequeue.testsupport.RabbitEndpoint;
import io.forgequeue.testsupport.TestInfrastructure;
import io.forgequeue.worker.forge.ForgeClient;
import io.micrometer.core.instrument.MeterRegistry;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.springframework.amqp.rabbit.listener.RabbitListenerEndpointRegistry;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static io.forgequeue.model.fixtures.JobSpecBuilder.aSpec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The worker against a real RabbitMQ (fresh virtual host from the harness) and a real forge-sim process, observed
 * from outside: jobs and cancels are published as the gateway would, events are read from a queue bound to
 * forge.events with "#", faults are injected through forge-sim's admin API. One Spring context for all scenarios;
 * every scenario starts from a healthy Forge and a consuming worker.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "worker.id=it-worker",
        "worker.forge.call-timeout=2s",
        "worker.forge.poll-timeout=1s",
        "worker.forge.settle-timeout=3s",
        "worker.forge.retry.max-retries=2",
        "worker.forge.retry.delay=50ms",
        "worker.forge.retry.max-delay=200ms",
        "worker.forge.retry.outage-delay=50ms",
        "worker.forge.retry.outage-max-delay=200ms",
        "worker.forge.breaker.failure-threshold=5",
        "worker.forge.breaker.delay=2s",
        "worker.forge.breaker.probe-interval=200ms",
        "worker.progress.poll-interval=100ms",
        "worker.progress.min-interval=100ms",
        "worker.progress.heartbeat-interval=500ms",
        "worker.progress.preview-interval=200ms",
        "worker.shutdown-grace=5s",
        "worker.confirm-timeout=5s",
        "worker.outcome.retry-for=60s",
        "worker.outcome.retry-delay=100ms",
        "worker.outcome.retry-max-delay=400ms"})
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class WorkerIT {

    static final Duration WAIT = Duration.ofSeconds(20);
    static final RabbitEndpoint RABBIT = TestInfrastructure.rabbit().withFreshVirtualHost("worker-it");
    static final ForgeSimProcess SIM = startSim();

    static EventRecorder events;
    static TestBroker broker;

    @Autowired
    ForgeClient forge;
    @Autowired
    RabbitListenerEndpointRegistry listeners;
    @Autowired
    MeterRegistry meters;
    @LocalServerPort
    int port;

    static ForgeSimProcess startSim() {
        try {
            return ForgeSimProcess.builder().args("--step-ms", "20", "--model-load-ms", "0", "--preview-every", "2")
                    .echoOutput(false).logTo(AppLogs.register("forge-sim", AppLogs.file("worker-it-forge"))).start();
        } catch (Exception e) {
            throw new IllegalStateException("forge-sim did not start", e);
        }
    }

    @DynamicPropertySource
    static void infrastructure(DynamicPropertyRegistry registry) {
        TestInfrastructure.springProperties(RABBIT, null).forEach((name, value) -> registry.add(name, () -> value));
        registry.add("worker.forge.url", () -> SIM.baseUrl().toString());
    }

    @BeforeAll
    static void watch() throws Exception {
        events = new EventRecorder(RABBIT);
        broker = new TestBroker(RABBIT);
    }

    @AfterAll
    static void stop() throws Exception {
        events.close();
        broker.close();
        SIM.close();
    }

    @BeforeEach
    void healthyForgeAndConsumingWorker() {
        admin().clearFaults();
        admin().comeUp();
        admin().stepTime(Duration.ofMillis(20));
        admin().webui(false);
        await().atMost(WAIT).until(() -> {
            ForgeSimAdmin.State s = admin().state();
            return s.apiUp() && !s.busy() && s.waiting() == 0 && s.hungNow() == 0 && s.foreignRunning() == 0;
        });
        await().atMost(WAIT).until(() -> forge.breakerState() == CircuitBreaker.State.CLOSED
                && listeners.getListenerContainer("jobs").isRunning());
        assertThat(events.problems()).isEmpty();
    }

    @Test
    @Order(1)
    void runsAJobAndReportsRunningProgressAndSucceededInOrderWithIntactImages() throws Exception {
        JobSpec spec = aSpec().size(512, 768).steps(30).seed(1234).batchSize(2).build();
        admin().holdAtStep(10); // mid-sampling until progress and a preview were relayed, however slow the machine

        UUID jobId = broker.submit(spec);

        await().atMost(WAIT).until(() -> !events.previewsOf(jobId).isEmpty()
                && events.eventsOf(jobId).stream().anyMatch(e -> e.type() == EventType.PROGRESS));
        admin().clearFaults();
        JobSucceeded done = (JobSucceeded) events.awaitType(jobId, EventType.SUCCEEDED, WAIT);
        List<JobEvent> all = events.eventsOf(jobId);
        assertThat(all.get(0).type()).isEqualTo(EventType.RUNNING);
        assertThat(all.get(all.size() - 1)).isEqualTo(done);
        assertThat(all).extracting(JobEvent::type).contains(EventType.PROGRESS)
                .doesNotContain(EventType.FAILED, EventType.REQUEUED);
        assertThat(all).extracting(JobEvent::attempt).containsOnly(1);
        assertThat(all).extracting(JobEvent::workerId).containsOnly("it-worker");
        for (int i = 0; i < all.size(); i++) {
            assertThat(all.get(i).seq()).as("seq of event %d %s", i, EventRecorder.describe(all)).isEqualTo(i + 1);
        }
        List<Integer> percents = all.stream().filter(e -> e instanceof JobProgressed)
                .map(e -> ((JobProgressed) e).percent()).toList();
        assertThat(percents).isSorted().doesNotHaveDuplicates();
        JobProgressed progress = (JobProgressed) all.stream().filter(e -> e instanceof JobProgressed).findFirst()
                .orElseThrow();
        assertThat(progress.steps()).isEqualTo(30);
        assertThat(done.images()).hasSize(2);
        assertThat(done.images()).extracting(GeneratedImage::seed).containsExactly(1234L, 1235L);
        for (GeneratedImage image : done.images()) {
            assertThat(image.mimeType()).isEqualTo("image/png");
            BufferedImage decoded = ImageIO.read(new ByteArrayInputStream(image.data()));
            assertThat(decoded).as("PNG decodes").isNotNull();
            assertThat(decoded.getWidth()).isEqualTo(512).isEqualTo(image.width());
            assertThat(decoded.getHeight()).isEqualTo(768).isEqualTo(image.height());
        }
        assertThat(done.metadata()).containsKeys("seed", "allSeeds", "sdModelName", "sampler", "forgeMillis");
        assertThat(done.metadata().get("sampler")).isEqualTo("DPM++ 2M");
        // issue 15: nobody needs the Forge URL with every job (it is the worker's configuration)
        assertThat(((JobStarted) all.get(0)).metadata()).containsKeys("pool", "workerVersion")
                .doesNotContainKey("forgeUrl");
        List<JobPreview> previews = events.previewsOf(jobId);
        assertThat(previews).as("live previews relayed").isNotEmpty();
        assertThat(previews).allSatisfy(p -> assertThat(p.data().length).isBetween(1, JobPreview.MAX_BYTES));
        assertThat(broker.messageCount(Topology.workerQueue(TestBroker.WORKER))).isZero();
        assertThat(meters.get("gpu.worker.jobs").tag("outcome", "succeeded").counter().count()).isPositive();
    }

    @Test
    @Order(2)
    void retriesAForge500OnceAndThenSucceeds() {
        long received = admin().stats().calls().received();
        double retries = retries("failure");
        admin().failNext(1);

        UUID jobId = broker.submit(aSpec().size(256, 256).steps(5).build());

        assertThat(events.awaitOutcome(jobId, WAIT).type()).isEqualTo(EventType.SUCCEEDED);
        assertThat(admin().stats().calls().received() - received).isEqualTo(2);
        assertThat(retries("failure") - retries).isEqualTo(1.0);
        assertThat(events.eventsOf(jobId)).extracting(JobEvent::type).doesNotContain(EventType.FAILED);
    }

    @Test
    @Order(3)
    void failsARepeated500WithForgeErrorAfterTwoRetries() {
        long received = admin().stats().calls().received();
        admin().failNext(3, "NansException");

        UUID jobId = broker.submit(aSpec().size(256, 256).steps(5).build());

        JobFailed failed = (JobFailed) events.awaitOutcome(jobId, WAIT);
        assertThat(failed.code()).isEqualTo(ErrorCode.FORGE_ERROR);
        assertThat(failed.retryable()).isTrue();
        assertThat(failed.metadata()).containsEntry("forgeError", "NansException").containsEntry("httpStatus", 500);
        assertThat(admin().stats().calls().received() - received).isEqualTo(3);
    }

    @Test
    @Order(4)
    void failsAnOutOfMemoryErrorAtOnceWithoutRetrying() {
        long received = admin().stats().calls().received();
        admin().failNextWithOutOfMemory(1);

        UUID jobId = broker.submit(aSpec().size(256, 256).steps(5).build());

        JobFailed failed = (JobFailed) events.awaitOutcome(jobId, WAIT);
        assertThat(failed.code()).isEqualTo(ErrorCode.FORGE_OUT_OF_MEMORY);
        assertThat(failed.message()).contains("smaller size");
        assertThat(admin().stats().calls().received() - received).isEqualTo(1);
    }

    @Test
    @Order(5)
    void failsAHangingCallWithAFriendlyTimeoutAndRunsTheNextJob() {
        long received = admin().stats().calls().received();
        admin().hangNext(3);

        UUID hung = broker.submit(aSpec().size(256, 256).steps(5).build());
        UUID next = broker.submit(aSpec().size(256, 256).steps(5).build());

        JobFailed failed = (JobFailed) events.awaitOutcome(hung, WAIT);
        assertThat(failed.code()).isEqualTo(ErrorCode.FORGE_TIMEOUT);
        assertThat(failed.message()).isEqualTo("The image server did not answer within 2 s. Please try again.");
        assertThat(failed.retryable()).isTrue();
        assertThat(events.awaitOutcome(next, WAIT).type()).isEqualTo(EventType.SUCCEEDED);
        assertThat(admin().stats().calls().received() - received).as("3 attempts + the next job").isEqualTo(4);
    }

    @Test
    @Order(6)
    void givesTheJobBackAndPausesWhileForgeIsDownThenResumesByItself() throws Exception {
        admin().goDown();

        UUID jobId = broker.submit(aSpec().size(256, 256).steps(5).build());

        JobRequeued requeued = (JobRequeued) events.awaitOutcome(jobId, WAIT);
        assertThat(requeued.attempt()).isEqualTo(1);
        assertThat(requeued.reason()).contains("unavailable");
        assertThat(forge.breakerState()).isEqualTo(CircuitBreaker.State.OPEN);
        await().atMost(WAIT).until(() -> !listeners.getListenerContainer("jobs").isRunning());
        assertThat(meters.get("gpu.worker.consuming").gauge().value()).isZero();
        assertThat(meters.get("gpu.worker.forge.breaker.state").gauge().value()).isEqualTo(2.0);
        EventRecorder.sleep(500);
        assertThat(broker.messageCount(Topology.workerQueue(TestBroker.WORKER))).as("job waits in the queue").isEqualTo(1);
        assertThat(broker.consumerCount(Topology.workerQueue(TestBroker.WORKER))).isZero();

        admin().comeUp();

        JobSucceeded done = (JobSucceeded) events.await(jobId, e -> e.type() == EventType.SUCCEEDED,
                Duration.ofSeconds(30));
        assertThat(done.attempt()).isEqualTo(2);
        assertThat(events.eventsOf(jobId)).extracting(JobEvent::type).doesNotContain(EventType.FAILED);
        assertThat(forge.breakerState()).isEqualTo(CircuitBreaker.State.CLOSED);
        assertThat(meters.get("gpu.worker.consuming").gauge().value()).isEqualTo(1.0);
    }

    @Test
    @Order(7)
    void cancelsARunningJobByInterruptingForge() {
        long interrupted = admin().stats().calls().interrupted();
        admin().holdAtStep(2); // the job stays on the GPU until the interrupt (within the 2 s call timeout)
        UUID jobId = broker.submit(aSpec().size(256, 256).steps(60).build());
        await().atMost(WAIT).until(() -> admin().state().heldNow() == 1);

        broker.cancel(jobId);

        JobCancelled cancelled = (JobCancelled) events.awaitOutcome(jobId, WAIT);
        assertThat(cancelled.reason()).contains("interrupted");
        assertThat(admin().stats().calls().interrupted() - interrupted).isEqualTo(1);
        assertThat(events.eventsOf(jobId)).extracting(JobEvent::type).doesNotContain(EventType.SUCCEEDED);
    }

    @Test
    @Order(8)
    void skipsAJobCancelledBeforeItArrivesWithoutCallingForge() throws Exception {
        long received = admin().stats().calls().received();
        UUID jobId = UUID.randomUUID();
        broker.cancel(jobId);
        EventRecorder.sleep(300); // the cancel travels over another queue

        broker.submit(jobId, aSpec().build());

        JobCancelled cancelled = (JobCancelled) events.awaitOutcome(jobId, WAIT);
        assertThat(cancelled.seq()).isEqualTo(1);
        assertThat(events.eventsOf(jobId)).hasSize(1);
        EventRecorder.sleep(200);
        assertThat(admin().stats().calls().received()).isEqualTo(received);
    }

    @Test
    @Order(9)
    void deadLettersAnUnreadableMessageAndKeepsWorking() throws Exception {
        String dead = Topology.deadLetterQueue("default");
        broker.purge(dead);

        broker.publishRaw(Topology.JOBS_EXCHANGE, "default", "{not json".getBytes(StandardCharsets.UTF_8), Map.of());

        await().atMost(WAIT).until(() -> broker.messageCount(dead) == 1);
        GetResponse poison = broker.take(dead);
        assertThat(new String(poison.getBody(), StandardCharsets.UTF_8)).isEqualTo("{not json");
        UUID next = broker.submit(aSpec().size(256, 256).steps(5).build());
        assertThat(events.awaitOutcome(next, WAIT).type()).isEqualTo(EventType.SUCCEEDED);
    }

    @Test
    @Order(10)
    void failsAnImpossibleSpecNamingTheFieldsAndDeadLettersIt() throws Exception {
        String dead = Topology.deadLetterQueue("default");
        broker.purge(dead);
        long received = admin().stats().calls().received();

        UUID jobId = broker.submit(aSpec().width(3).steps(0).build());

        JobFailed failed = (JobFailed) events.awaitOutcome(jobId, WAIT);
        assertThat(failed.code()).isEqualTo(ErrorCode.INVALID_SPEC);
        assertThat(failed.retryable()).isFalse();
        assertThat(failed.message()).contains("width").contains("steps");
        await().atMost(WAIT).until(() -> broker.messageCount(dead) == 1);
        assertThat(admin().stats().calls().received()).isEqualTo(received);
    }

    @Test
    @Order(11)
    void failsAJobDeliveredTooManyTimesAndAcksIt() throws Exception {
        long received = admin().stats().calls().received();

        // the scheduler handed this job out 5 times already; a worker never runs a 6th attempt
        UUID jobId = broker.submitAttempt(UUID.randomUUID(), 6, aSpec().build());

        JobFailed failed = (JobFailed) events.awaitOutcome(jobId, WAIT);
        assertThat(failed.code()).isEqualTo(ErrorCode.TOO_MANY_ATTEMPTS);
        assertThat(failed.attempt()).isEqualTo(6);
        assertThat(failed.message()).contains("5 times").contains("limit is 5");
        EventRecorder.sleep(200);
        assertThat(broker.messageCount(Topology.workerQueue(TestBroker.WORKER))).isZero();
        assertThat(admin().stats().calls().received()).isEqualTo(received);
    }

    /**
     * The broker refuses the outcome for a while (as a quorum queue does during a leader election): the worker
     * sends the same event again with pauses until it is confirmed, and only then acks. The job runs on Forge once,
     * the message is not handed back in a loop, and the next job runs normally.
     */
    @Test
    @Order(11)
    void sendsARefusedOutcomeAgainUntilTheBrokerTakesItWithoutRunningTheJobTwice() throws Exception {
        long received = admin().stats().calls().received();
        double nacked = eventResults("SUCCEEDED", "nacked");
        broker.refuseEvents("it-refuse-outcomes", "job.succeeded");
        UUID jobId;
        try {
            jobId = broker.submit(aSpec().size(256, 256).steps(5).build());
            await().atMost(WAIT).until(() -> eventResults("SUCCEEDED", "nacked") - nacked >= 3);
            assertThat(broker.messageCount(Topology.workerQueue(TestBroker.WORKER))).as("the job is held, not given back")
                    .isZero();
            assertThat(admin().stats().calls().received() - received).as("Forge ran the job once").isEqualTo(1);
        } finally {
            broker.deleteQueue("it-refuse-outcomes");
        }

        JobSucceeded done = (JobSucceeded) events.awaitType(jobId, EventType.SUCCEEDED, WAIT);
        await().atMost(WAIT).until(() -> eventResults("SUCCEEDED", "confirmed") > 0
                && broker.messageCount(Topology.workerQueue(TestBroker.WORKER)) == 0);
        List<JobEvent> all = events.eventsOf(jobId);
        assertThat(all).extracting(JobEvent::attempt).as(EventRecorder.describe(all)).containsOnly(1);
        assertThat(all).filteredOn(e -> e.type() == EventType.SUCCEEDED).extracting(JobEvent::seq)
                .as("every copy of the outcome is the same event").containsOnly(done.seq());
        assertThat(all).extracting(JobEvent::type).doesNotContain(EventType.REQUEUED, EventType.FAILED);
        assertThat(admin().stats().calls().received() - received).as("Forge ran the job once").isEqualTo(1);

        UUID next = broker.submit(aSpec().size(256, 256).steps(5).build());
        assertThat(events.awaitOutcome(next, WAIT).type()).isEqualTo(EventType.SUCCEEDED);
    }

    /**
     * Measures the "GPU" duty cycle as forge-sim sees it (lock held / wall time) with a backlog. Not a benchmark
     * gate (timings on a shared 2-core machine are not a test): it prints the figures and checks that the backlog
     * ran one job at a time, each for its full sampling time, with one idle gap between each two jobs.
     * Forge, like forge-sim, encodes the PNGs after releasing its lock, and the worker acks only after the outcome
     * event is confirmed (a quorum-queue fsync) with prefetch 1, so with one worker the lock is idle for the encode,
     * the response, the confirm and the broker's hand-off of the next job.
     */
    @Test
    @Order(13)
    void keepsForgeBusyThroughABacklogOfTwentyOneSecondJobs() {
        admin().stepTime(Duration.ofMillis(50));
        JobSpec oneSecond = aSpec().size(512, 512).steps(20).build(); // 20 x 50 ms
        List<UUID> jobs = new ArrayList<>();
        listeners.getListenerContainer("jobs").stop();
        for (int i = 0; i < 20; i++) {
            jobs.add(broker.submit(oneSecond));
        }
        admin().resetStats();
        var gap = meters.get("gpu.worker.idle.gap").timer();
        Map<String, Long> turnaroundsBefore = new LinkedHashMap<>();
        double turnaroundMillisBefore = 0;
        for (String stage : List.of(WorkerMetrics.PREPARE, WorkerMetrics.RESULT, WorkerMetrics.CONFIRM)) {
            var timer = meters.get("gpu.worker.turnaround").tag("stage", stage).timer();
            turnaroundsBefore.put(stage, timer.count());
            turnaroundMillisBefore += timer.totalTime(java.util.concurrent.TimeUnit.MILLISECONDS);
        }

        listeners.getListenerContainer("jobs").start();
        events.awaitType(jobs.get(0), EventType.RUNNING, WAIT); // the gap before the first job is recorded by now
        long gapsBefore = gap.count();
        double gapMillisBefore = gap.totalTime(java.util.concurrent.TimeUnit.MILLISECONDS);

        for (UUID jobId : jobs) {
            assertThat(events.awaitOutcome(jobId, Duration.ofSeconds(60)).type()).isEqualTo(EventType.SUCCEEDED);
        }
        ForgeSimAdmin.DutyCycle duty = admin().stats().duty();
        System.out.printf("DUTY CYCLE (forge-sim, 20 x 1 s jobs, one worker): %.4f; busy %d ms over %d ms; "
                        + "idle gap p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms, mean %.2f ms (%d gaps)%n",
                duty.dutyCycle(), duty.busyMicros() / 1000, duty.spanMicros() / 1000, duty.gapP50Micros() / 1000.0,
                duty.gapP90Micros() / 1000.0, duty.gapP99Micros() / 1000.0, duty.gapMaxMicros() / 1000.0,
                duty.gapMeanMicros() / 1000.0, duty.gapCount());
        long gaps = gap.count() - gapsBefore;
        System.out.printf("WORKER: listener idle gap (ack, broker hands over the next job) mean %.2f ms over %d gaps%n",
                (gap.totalTime(java.util.concurrent.TimeUnit.MILLISECONDS) - gapMillisBefore) / gaps, gaps);
        double turnaroundMillis = -turnaroundMillisBefore;
        for (Map.Entry<String, Long> before : turnaroundsBefore.entrySet()) {
            var timer = meters.get("gpu.worker.turnaround").tag("stage", before.getKey()).timer();
            System.out.printf("WORKER: turnaround %s mean %.2f ms, max %.2f ms%n", before.getKey(),
                    timer.mean(java.util.concurrent.TimeUnit.MILLISECONDS),
                    timer.max(java.util.concurrent.TimeUnit.MILLISECONDS));
            assertThat(timer.count() - before.getValue()).as("one %s time per job", before.getKey()).isEqualTo(20);
            turnaroundMillis += timer.totalTime(java.util.concurrent.TimeUnit.MILLISECONDS);
        }
        assertThat(turnaroundMillis).as("the stages are the worker's time around Forge's 20 x 1 s, never Forge's own")
                .isPositive().isLessThan(10_000);
        assertThat(duty.jobs()).isEqualTo(20);
        assertThat(duty.gapCount()).as("one idle gap between each two jobs: never two at once").isEqualTo(19);
        assertThat(duty.busyMicros()).as("every job sampled its 20 steps of 50 ms").isGreaterThanOrEqualTo(20 * 1_000_000L);
    }

    @Test
    @Order(12)
    void runsAJobOnTheCheckpointItAsksForAndRefusesNamesForgeWouldSilentlyReplace() {
        long received = admin().stats().calls().received();

        UUID onFlux = broker.submit(aSpec().size(256, 256).steps(5).sampler("Euler").scheduler("Simple")
                .checkpoint("flux1-dev-bnb-nf4-v2").build());
        UUID unknownSampler = broker.submit(aSpec().size(256, 256).steps(5).sampler("Kohaku 3000").build());

        JobSucceeded done = (JobSucceeded) events.awaitOutcome(onFlux, WAIT);
        assertThat(done.metadata()).containsEntry("sdModelName", "flux1-dev-bnb-nf4-v2")
                .containsEntry("checkpointRequested", "flux1-dev-bnb-nf4-v2");
        JobFailed refused = (JobFailed) events.awaitOutcome(unknownSampler, WAIT);
        assertThat(refused.code()).isEqualTo(ErrorCode.FORGE_REJECTED);
        assertThat(refused.retryable()).isFalse();
        assertThat(refused.message()).contains("unknown sampler 'Kohaku 3000'");
        assertThat(admin().stats().calls().received() - received).isEqualTo(1);
    }

    @Test
    @Order(14)
    void exposesLivenessReadinessForgeHealthAndPrometheusMetrics() throws Exception {
        HttpClient http = HttpClient.newHttpClient();

        HttpResponse<String> readiness = get(http, "/actuator/health/readiness");
        HttpResponse<String> liveness = get(http, "/actuator/health/liveness");
        HttpResponse<String> health = get(http, "/actuator/health");
        HttpResponse<String> prometheus = get(http, "/actuator/prometheus");

        assertThat(readiness.statusCode()).isEqualTo(200);
        assertThat(readiness.body()).contains("\"rabbit\"").contains("UP");
        assertThat(liveness.statusCode()).isEqualTo(200);
        assertThat(health.body()).contains("\"forge\"").contains("\"breaker\":\"CLOSED\"");
        assertThat(prometheus.body())
                .contains("gpu_worker_jobs_total{application=\"gpu-worker\"")
                .contains("gpu_worker_forge_calls_seconds_bucket")
                .contains("gpu_worker_forge_breaker_state{application=\"gpu-worker\"} 0.0")
                .contains("gpu_worker_duty_cycle")
                .contains("gpu_worker_idle_gap_seconds_bucket")
                .contains("gpu_worker_turnaround_seconds_bucket{application=\"gpu-worker\",stage=\"confirm\"")
                .contains("gpu_worker_busy_time_seconds_total")
                .doesNotContain(SIM.baseUrl().getPort() + "\"}"); // no high-cardinality tags
    }

    /** Issue 15: a person interrupting the job in Forge's web UI must not make it SUCCEEDED with a half image. */
    @Test
    @Order(15)
    void givesBackAJobSomeoneElseInterruptedOnForgeAndRunsItAgain() {
        double interrupted = foreign("interrupted");
        admin().interruptNext(1, 3);

        UUID jobId = broker.submit(aSpec().size(256, 256).steps(10).build());

        JobRequeued requeued = (JobRequeued) events.await(jobId, e -> e.type() == EventType.REQUEUED, WAIT);
        assertThat(requeued.attempt()).isEqualTo(1);
        assertThat(requeued.reason()).contains("interrupted").contains("someone else");
        JobSucceeded done = (JobSucceeded) events.await(jobId, e -> e.type() == EventType.SUCCEEDED, WAIT);
        assertThat(done.attempt()).isEqualTo(2);
        assertThat(events.eventsOf(jobId)).filteredOn(e -> e.attempt() == 1).extracting(JobEvent::type)
                .doesNotContain(EventType.SUCCEEDED, EventType.FAILED);
        assertThat(foreign("interrupted") - interrupted).isEqualTo(1);
    }

    /**
     * Issue 15: while another client's job runs on Forge (a person in its web UI), the worker does not send its
     * txt2img, reports none of that job's progress or previews, and runs its own once Forge is idle.
     */
    @Test
    @Order(16)
    void waitsForAnotherClientsJobOnForgeAndReportsOnlyItsOwnProgress() {
        admin().webui(true);
        long received = admin().stats().calls().received();
        long interrupted = admin().stats().calls().interrupted();
        admin().startForeignJob(ForgeSimAdmin.ForeignJob.ui("a person's castle", 60).heldAtStep(20));
        await().atMost(WAIT).until(() -> admin().state().heldNow() == 1);

        UUID jobId = broker.submit(aSpec().size(256, 256).steps(30).build());
        await().atMost(WAIT).until(() -> meters.get("gpu.worker.forge.busy.waiting").gauge().value() == 1.0);
        events.awaitType(jobId, EventType.HEARTBEAT, WAIT); // many progress polls and preview intervals later

        assertThat(events.eventsOf(jobId)).extracting(JobEvent::type).doesNotContain(EventType.PROGRESS);
        assertThat(events.previewsOf(jobId)).isEmpty();
        assertThat(admin().stats().calls().received() - received).as("only the other client's job").isEqualTo(1);
        admin().release();

        assertThat(events.awaitOutcome(jobId, WAIT).type()).isEqualTo(EventType.SUCCEEDED);
        assertThat(events.eventsOf(jobId)).filteredOn(e -> e instanceof JobProgressed)
                .extracting(e -> ((JobProgressed) e).steps()).isNotEmpty().containsOnly(30);
        assertThat(events.previewsOf(jobId)).extracting(JobPreview::steps).containsOnly(30);
        assertThat(admin().stats().calls().interrupted() - interrupted).isZero();
        assertThat(meters.get("gpu.worker.forge.busy.waiting").gauge().value()).isZero();
    }

    /** Issue 15: cancelling a job that waits for another client's job must not interrupt that job. */
    @Test
    @Order(17)
    void cancelsAJobWaitingForAnotherClientsJobWithoutInterruptingThatJob() {
        long interrupted = admin().stats().calls().interrupted();
        admin().startForeignJob(ForgeSimAdmin.ForeignJob.api("someone else's cat", 60).heldAtStep(20));
        await().atMost(WAIT).until(() -> admin().state().heldNow() == 1);
        UUID jobId = broker.submit(aSpec().size(256, 256).steps(30).build());
        await().atMost(WAIT).until(() -> meters.get("gpu.worker.forge.busy.waiting").gauge().value() == 1.0);

        broker.cancel(jobId);

        JobCancelled cancelled = (JobCancelled) events.awaitOutcome(jobId, WAIT);
        assertThat(cancelled.reason()).contains("before Forge was called");
        assertThat(admin().state().heldNow()).as("the other job still runs").isEqualTo(1);
        admin().release();
        await().atMost(WAIT).until(() -> admin().state().foreignRunning() == 0);
        assertThat(admin().stats().calls().interrupted() - interrupted).isZero();
    }

    private double foreign(String event) {
        return meters.get("gpu.worker.forge.foreign").tag("event", event).counter().count();
    }

    private HttpResponse<String> get(HttpClient http, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private ForgeSimAdmin admin() {
        return SIM.admin();
    }

    private double eventResults(String type, String result) {
        var counter = meters.find("gpu.worker.events").tag("type", type).tag("result", result).counter();
        return counter == null ? 0 : counter.count();
    }

    private double retries(String reason) {
        var counter = meters.find("gpu.worker.forge.retries").tag("reason", reason).counter();
        return counter == null ? 0 : counter.count();
    }
}
