package io.forgequeue.worker;

import static io.forgequeue.model.fixtures.JobSpecBuilder.aSpec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

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
import io.forgequeue.model.JobMessage;
import io.forgequeue.model.JobPreview;
import io.forgequeue.model.JobProgressed;
import io.forgequeue.model.JobRequeued;
import io.forgequeue.model.JobSpec;
import io.forgequeue.model.JobStarted;
import io.forgequeue.model.JobSucceeded;
import io.forgequeue.model.Topology;
import io.forgequeue.model.WorkerState;
import io.forgequeue.model.WorkerStatus;
import io.forgequeue.testsupport.AppLogs;
import io.forgequeue.testsupport.RabbitEndpoint;
import io.forgequeue.testsupport.TestInfrastructure;
import io.forgequeue.worker.cancel.CancelledJobs;
import io.forgequeue.worker.forge.ForgeClient;
import io.forgequeue.worker.forge.ForgeIdentity;
import io.forgequeue.worker.system.WireJson;
import io.forgequeue.worker.system.WorkerMetrics;
import io.micrometer.core.instrument.MeterRegistry;
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
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import javax.imageio.ImageIO;
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

/**
 * The worker against a real RabbitMQ (fresh virtual host from the harness) and a real forge-sim process, observed
 * from outside. The test plays the gateway's scheduler ({@link TestBroker}): it hands jobs to this worker's own
 * queue (routing key {@code worker.it-worker}, with the attempt and the worker id of the assignment), hands a
 * given-back job out again, publishes cancels and stops of one attempt. Events and the worker's announcements are
 * read from a queue bound to forge.events with "#"; faults are injected through forge-sim's admin API. One Spring
 * context for all scenarios; every scenario starts from a healthy Forge and a worker that announced itself READY
 * and idle.
 */
@SpringBootTest(
        webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {
            "worker.id=it-worker",
            "worker.forge.call-timeout=10s",
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
            "worker.outcome.retry-max-delay=400ms",
            "worker.presence.interval=200ms",
            "worker.presence.offer-every=1s"
        })
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class WorkerIT {

    static final Duration WAIT = Duration.ofSeconds(20);
    static final String WORKER = TestBroker.WORKER;
    static final RabbitEndpoint RABBIT = TestInfrastructure.rabbit().withFreshVirtualHost("worker-it");
    static final ForgeSimProcess SIM = startSim();

    static EventRecorder events;
    static TestBroker broker;
    /** Whether this worker's job queue existed when its first announcement arrived. */
    static final AtomicReference<TestBroker.QueueState> queueAtFirstAnnouncement = new AtomicReference<>();

    @Autowired
    ForgeClient forge;

    @Autowired
    RabbitListenerEndpointRegistry listeners;

    @Autowired
    MeterRegistry meters;

    @Autowired
    CancelledJobs cancelledJobs;

    @LocalServerPort
    int port;

    static ForgeSimProcess startSim() {
        try {
            return ForgeSimProcess.builder()
                    .args("--step-ms", "20", "--model-load-ms", "0", "--preview-every", "2")
                    .echoOutput(false)
                    .logTo(AppLogs.register("forge-sim", AppLogs.file("worker-it-forge")))
                    .start();
        } catch (Exception e) {
            throw new IllegalStateException("forge-sim did not start", e);
        }
    }

    @DynamicPropertySource
    static void infrastructure(DynamicPropertyRegistry registry) {
        TestInfrastructure.springProperties(RABBIT, null).forEach((name, value) -> registry.add(name, () -> value));
        registry.add("worker.forge.url", () -> SIM.baseUrl().toString());
    }

    /** Before the Spring context starts, so the recorder hears the worker's very first announcement. */
    @BeforeAll
    static void watch() throws Exception {
        events = new EventRecorder(RABBIT);
        broker = new TestBroker(RABBIT);
        AtomicBoolean first = new AtomicBoolean(true);
        events.onStatus(status -> {
            if (status.workerId().equals(WORKER) && first.getAndSet(false)) {
                try {
                    queueAtFirstAnnouncement.set(broker.queueState(Topology.workerQueue(WORKER)));
                } catch (Exception e) {
                    e.printStackTrace(); // left unset: the test says so; throwing would close the recorder's channel
                }
            }
        });
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
        await().atMost(WAIT)
                .until(() -> forge.breakerState() == CircuitBreaker.State.CLOSED
                        && listeners.getListenerContainer("jobs").isRunning());
        await().atMost(WAIT).until(() -> {
            WorkerStatus last = events.lastStatus(WORKER);
            return last != null && last.state() == WorkerState.READY && last.running() == null;
        });
        assertThat(events.problems()).isEmpty();
    }

    @Test
    @Order(1)
    void runsAJobAndReportsRunningProgressAndSucceededInOrderWithIntactImages() throws Exception {
        JobSpec spec = aSpec().size(512, 768).steps(30).seed(1234).batchSize(2).build();
        admin().holdAtStep(10); // mid-sampling until progress and a preview were relayed, however slow the machine

        UUID jobId = broker.submit(spec);

        await().atMost(WAIT)
                .until(() -> !events.previewsOf(jobId).isEmpty()
                        && events.eventsOf(jobId).stream().anyMatch(e -> e.type() == EventType.PROGRESS));
        admin().clearFaults();
        JobSucceeded done = (JobSucceeded) events.awaitType(jobId, EventType.SUCCEEDED, WAIT);
        List<JobEvent> all = events.eventsOf(jobId);
        assertThat(all.get(0).type()).isEqualTo(EventType.RUNNING);
        assertThat(all.get(all.size() - 1)).isEqualTo(done);
        assertThat(all)
                .extracting(JobEvent::type)
                .contains(EventType.PROGRESS)
                .doesNotContain(EventType.FAILED, EventType.REQUEUED);
        assertThat(all).extracting(JobEvent::attempt).containsOnly(1);
        assertThat(all).extracting(JobEvent::workerId).containsOnly("it-worker");
        for (int i = 0; i < all.size(); i++) {
            assertThat(all.get(i).seq())
                    .as("seq of event %d %s", i, EventRecorder.describe(all))
                    .isEqualTo(i + 1);
        }
        List<Integer> percents = all.stream()
                .filter(e -> e instanceof JobProgressed)
                .map(e -> ((JobProgressed) e).percent())
                .toList();
        assertThat(percents).isSorted().doesNotHaveDuplicates();
        JobProgressed progress = (JobProgressed)
                all.stream().filter(e -> e instanceof JobProgressed).findFirst().orElseThrow();
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
        assertThat(((JobStarted) all.get(0)).metadata())
                .containsKeys("pool", "workerVersion")
                .doesNotContainKey("forgeUrl");
        List<JobPreview> previews = events.previewsOf(jobId);
        assertThat(previews).as("live previews relayed").isNotEmpty();
        assertThat(previews).allSatisfy(p -> assertThat(p.data().length).isBetween(1, JobPreview.MAX_BYTES));
        assertThat(meters.get("gpu.worker.jobs")
                        .tag("outcome", "succeeded")
                        .counter()
                        .count())
                .isPositive();
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
        assertThat(failed.metadata())
                .containsEntry("forgeError", "NansException")
                .containsEntry("httpStatus", 500);
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
    void failsAHangingCallWithAFriendlyTimeoutAtOnceAndRunsTheNextJob() {
        long received = admin().stats().calls().received();
        admin().hangNext(1);

        UUID hung = broker.submit(aSpec().size(256, 256).steps(5).build());
        UUID next = broker.submit(aSpec().size(256, 256).steps(5).build());

        JobFailed failed = (JobFailed) events.awaitOutcome(hung, WAIT);
        assertThat(failed.code()).isEqualTo(ErrorCode.FORGE_TIMEOUT);
        assertThat(failed.message()).isEqualTo("The image server did not answer within 10 s. Please try again.");
        assertThat(failed.retryable()).isTrue();
        assertThat(events.awaitOutcome(next, WAIT).type()).isEqualTo(EventType.SUCCEEDED);
        // issue 19: a call that outlasts the timeout is not retried at full length
        assertThat(admin().stats().calls().received() - received)
                .as("1 attempt + the next job")
                .isEqualTo(2);
    }

    /**
     * Forge goes down during a job: the worker gives the job back (REQUEUED, then acks it: the scheduler decides where
     * it runs next), stops consuming and announces PAUSED for as long as the breaker keeps Forge out, then READY once
     * a probe gets through. The given-back job does not run here again until it is handed out again (attempt 2).
     */
    @Test
    @Order(6)
    void givesTheJobBackAndAnnouncesPausedWhileForgeIsDownThenReadyAgain() {
        JobSpec spec = aSpec().size(256, 256).steps(5).build();
        int mark = events.statusCount(WORKER);
        admin().goDown();

        UUID jobId = broker.submit(spec);

        JobRequeued requeued = (JobRequeued) events.awaitOutcome(jobId, WAIT);
        assertThat(requeued.attempt()).isEqualTo(1);
        assertThat(requeued.reason()).contains("unavailable");
        assertThat(forge.breakerState()).isEqualTo(CircuitBreaker.State.OPEN);
        events.awaitStatus(WORKER, mark, s -> s.state() == WorkerState.PAUSED && s.running() == null, WAIT);
        await().atMost(WAIT).until(() -> !listeners.getListenerContainer("jobs").isRunning());
        assertThat(meters.get("gpu.worker.consuming").gauge().value()).isZero();
        assertThat(meters.get("gpu.worker.forge.breaker.state").gauge().value()).isEqualTo(2.0);
        int pausedMark = events.statusCount(WORKER);
        events.awaitStatus(WORKER, pausedMark + 1, s -> true, WAIT); // PAUSED is repeated while it lasts

        admin().comeUp();

        WorkerStatus ready =
                events.awaitStatus(WORKER, pausedMark, s -> s.state() == WorkerState.READY, Duration.ofSeconds(30));
        List<WorkerStatus> whileDown = events.statusesOf(WORKER, pausedMark).stream()
                .takeWhile(s -> s.seq() < ready.seq())
                .toList();
        assertThat(whileDown)
                .as(EventRecorder.describeStatuses(whileDown))
                .hasSizeGreaterThanOrEqualTo(2)
                .allSatisfy(s -> assertThat(s.state()).isEqualTo(WorkerState.PAUSED));
        assertThat(forge.breakerState()).isEqualTo(CircuitBreaker.State.CLOSED);
        assertThat(meters.get("gpu.worker.consuming").gauge().value()).isEqualTo(1.0);
        UUID next = broker.submit(spec);
        assertThat(events.awaitOutcome(next, WAIT).type()).isEqualTo(EventType.SUCCEEDED);
        assertThat(events.eventsOf(jobId))
                .as("the given-back job was acked: it did not come back by itself")
                .filteredOn(e -> e.type() != EventType.HEARTBEAT && e.type() != EventType.PROGRESS)
                .extracting(JobEvent::type)
                .containsExactly(EventType.RUNNING, EventType.REQUEUED);

        broker.submit(jobId, spec); // the scheduler hands it out again

        JobSucceeded done = (JobSucceeded) events.awaitType(jobId, EventType.SUCCEEDED, WAIT);
        assertThat(done.attempt()).isEqualTo(2);
        assertThat(events.eventsOf(jobId))
                .filteredOn(e -> e.type() == EventType.RUNNING)
                .extracting(JobEvent::attempt)
                .containsExactly(1, 2);
    }

    /**
     * A job assigned to this worker before the scheduler heard that it paused waits in its queue; the scheduler takes
     * such assignments back, so on resuming the worker drops what is in its queue rather than run a revoked attempt.
     */
    @Test
    @Order(6)
    void dropsWhatReachedItsQueueWhilePausedBeforeItConsumesAgain() {
        JobSpec spec = aSpec().size(256, 256).steps(5).build();
        int mark = events.statusCount(WORKER);
        admin().goDown();
        UUID givenBack = broker.submit(spec);
        assertThat(events.awaitOutcome(givenBack, WAIT).type()).isEqualTo(EventType.REQUEUED);
        events.awaitStatus(WORKER, mark, s -> s.state() == WorkerState.PAUSED, WAIT);

        UUID revoked = UUID.randomUUID();
        assertThat(broker.offer(revoked, spec))
                .as("its queue outlives the pause")
                .isTrue();
        long received = admin().stats().calls().received();
        int pausedMark = events.statusCount(WORKER);
        admin().comeUp();

        events.awaitStatus(WORKER, pausedMark, s -> s.state() == WorkerState.READY, Duration.ofSeconds(30));
        UUID next = broker.submit(spec);
        assertThat(events.awaitOutcome(next, WAIT).type()).isEqualTo(EventType.SUCCEEDED);
        assertThat(events.eventsOf(revoked))
                .as("the job that waited in the queue was dropped, not run")
                .isEmpty();
        assertThat(admin().stats().calls().received() - received)
                .as("only the next job reached Forge")
                .isEqualTo(1);
    }

    @Test
    @Order(7)
    void cancelsARunningJobByInterruptingForge() {
        long interrupted = admin().stats().calls().interrupted();
        admin().holdAtStep(2); // the job stays on the GPU until the interrupt (within the 10 s call timeout)
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
        await().atMost(WAIT).until(() -> cancelledJobs.isCancelled(jobId)); // the cancel travels over another queue

        broker.submit(jobId, aSpec().build());

        JobCancelled cancelled = (JobCancelled) events.awaitOutcome(jobId, WAIT);
        assertThat(cancelled.seq()).isEqualTo(1);
        UUID next = broker.submit(aSpec().size(256, 256).steps(5).build());
        assertThat(events.awaitOutcome(next, WAIT).type()).isEqualTo(EventType.SUCCEEDED);
        assertThat(events.eventsOf(jobId)).hasSize(1);
        assertThat(admin().stats().calls().received() - received)
                .as("only the next job reached Forge")
                .isEqualTo(1);
    }

    /** The scheduler took the running attempt back (e.g. it revoked it while this worker seemed lost). */
    @Test
    @Order(8)
    void aStopOfTheRunningAttemptInterruptsForgeAndGivesTheJobBack() {
        long interrupted = admin().stats().calls().interrupted();
        double requeuedBefore = jobs("requeued");
        admin().holdAtStep(2); // still on the GPU when the stop arrives, however slow the machine
        UUID jobId = broker.submit(aSpec().size(256, 256).steps(60).build());
        events.awaitType(jobId, EventType.PROGRESS, WAIT);

        broker.stop(jobId, 1, WORKER);

        JobRequeued requeued = (JobRequeued) events.awaitOutcome(jobId, WAIT);
        assertThat(requeued.attempt()).isEqualTo(1);
        assertThat(requeued.reason()).isEqualTo("taken back by the scheduler");
        assertThat(admin().stats().calls().interrupted() - interrupted).isEqualTo(1);
        assertThat(events.eventsOf(jobId))
                .extracting(JobEvent::type)
                .doesNotContain(EventType.SUCCEEDED, EventType.CANCELLED);
        await().atMost(WAIT).until(() -> jobs("requeued") - requeuedBefore == 1);
    }

    /** Stops name one assignment: one meant for another worker, or for another attempt, leaves this one running. */
    @Test
    @Order(8)
    void aStopForAnotherWorkerOrAnotherAttemptLeavesTheRunningAttemptAlone() {
        long interrupted = admin().stats().calls().interrupted();
        UUID jobId = broker.submit(aSpec().size(256, 256).steps(80).build()); // 80 x 20 ms = 1.6 s
        events.awaitType(jobId, EventType.PROGRESS, WAIT);

        broker.stop(jobId, 1, "another-worker");
        broker.stop(jobId, 2, WORKER);
        // the control queue is read in order: once the second stop is remembered, the first one was read too
        await().atMost(WAIT).until(() -> cancelledJobs.isStopped(jobId, 2));

        JobEvent outcome = events.awaitOutcome(jobId, WAIT);
        assertThat(outcome.type()).isEqualTo(EventType.SUCCEEDED);
        assertThat(outcome.attempt()).isEqualTo(1);
        assertThat(admin().stats().calls().interrupted()).isEqualTo(interrupted);
        assertThat(cancelledJobs.isStopped(jobId, 1))
                .as("a stop for another worker is not even remembered")
                .isFalse();
    }

    /** An assignment the scheduler took back before its message was delivered: skipped, no event at all. */
    @Test
    @Order(8)
    void skipsWithoutAnyEventAnAttemptStoppedBeforeItArrives() {
        long received = admin().stats().calls().received();
        double skipped = jobs("skipped");
        UUID jobId = UUID.randomUUID();
        broker.stop(jobId, 1, WORKER);
        await().atMost(WAIT).until(() -> cancelledJobs.isStopped(jobId, 1));

        broker.submitAttempt(jobId, 1, aSpec().build());
        UUID next = broker.submit(aSpec().size(256, 256).steps(5).build());

        assertThat(events.awaitOutcome(next, WAIT).type()).isEqualTo(EventType.SUCCEEDED);
        assertThat(events.eventsOf(jobId))
                .as("handled before the next job, without a word")
                .isEmpty();
        assertThat(admin().stats().calls().received() - received)
                .as("only the next job reached Forge")
                .isEqualTo(1);
        assertThat(jobs("skipped") - skipped).isEqualTo(1.0);
    }

    @Test
    @Order(9)
    void deadLettersAnUnreadableMessageAndKeepsWorking() throws Exception {
        String dead = Topology.deadLetterQueue("default");
        broker.purge(dead);

        broker.publishRaw(
                Topology.HANDOUT_EXCHANGE,
                Topology.workerQueue(WORKER),
                "{not json".getBytes(StandardCharsets.UTF_8),
                Map.of());

        await().atMost(WAIT).until(() -> broker.messageCount(dead) == 1);
        GetResponse poison = broker.take(dead);
        assertThat(new String(poison.getBody(), StandardCharsets.UTF_8)).isEqualTo("{not json");
        UUID next = broker.submit(aSpec().size(256, 256).steps(5).build());
        assertThat(events.awaitOutcome(next, WAIT).type()).isEqualTo(EventType.SUCCEEDED);
    }

    /** A job message in this worker's queue that names another worker is not this worker's to run. */
    @Test
    @Order(9)
    void deadLettersAJobAssignedToAnotherWorkerWithoutRunningIt() throws Exception {
        String dead = Topology.deadLetterQueue("default");
        broker.purge(dead);
        long received = admin().stats().calls().received();

        UUID jobId = broker.submitAs(UUID.randomUUID(), 1, "another-worker", aSpec().build());

        await().atMost(WAIT).until(() -> broker.messageCount(dead) == 1);
        JobMessage deadLettered =
                WireJson.newMapper().readValue(broker.take(dead).getBody(), JobMessage.class);
        assertThat(deadLettered.jobId()).isEqualTo(jobId);
        assertThat(deadLettered.workerId()).isEqualTo("another-worker");
        UUID next = broker.submit(aSpec().size(256, 256).steps(5).build());
        assertThat(events.awaitOutcome(next, WAIT).type()).isEqualTo(EventType.SUCCEEDED);
        assertThat(events.eventsOf(jobId)).isEmpty();
        assertThat(admin().stats().calls().received() - received)
                .as("only the next job reached Forge")
                .isEqualTo(1);
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
        UUID next = broker.submit(aSpec().size(256, 256).steps(5).build());
        assertThat(events.awaitOutcome(next, WAIT).type()).isEqualTo(EventType.SUCCEEDED);
        assertThat(events.eventsOf(jobId)).as("acked: not delivered again").hasSize(1);
        assertThat(admin().stats().calls().received() - received)
                .as("only the next job reached Forge")
                .isEqualTo(1);
    }

    /**
     * The broker refuses the outcome for a while (as a quorum queue does during a leader election): the worker
     * sends the same event again with pauses until it is confirmed, and only then acks; meanwhile it keeps announcing
     * that it holds the job. The job runs on Forge once, the message is not handed back in a loop, and the next job
     * runs normally.
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
            UUID held = jobId;
            events.awaitStatus(WORKER, s -> new WorkerStatus.Assignment(held, 1).equals(s.running()), WAIT);
            assertThat(admin().stats().calls().received() - received)
                    .as("Forge ran the job once")
                    .isEqualTo(1);
        } finally {
            broker.deleteQueue("it-refuse-outcomes");
        }

        JobSucceeded done = (JobSucceeded) events.awaitType(jobId, EventType.SUCCEEDED, WAIT);
        events.awaitStatus(WORKER, s -> s.running() == null, WAIT);
        List<JobEvent> all = events.eventsOf(jobId);
        assertThat(all)
                .extracting(JobEvent::attempt)
                .as(EventRecorder.describe(all))
                .containsOnly(1);
        assertThat(all)
                .filteredOn(e -> e.type() == EventType.SUCCEEDED)
                .extracting(JobEvent::seq)
                .as("every copy of the outcome is the same event")
                .containsOnly(done.seq());
        assertThat(all).extracting(JobEvent::type).doesNotContain(EventType.REQUEUED, EventType.FAILED);
        assertThat(admin().stats().calls().received() - received)
                .as("Forge ran the job once")
                .isEqualTo(1);

        UUID next = broker.submit(aSpec().size(256, 256).steps(5).build());
        assertThat(events.awaitOutcome(next, WAIT).type()).isEqualTo(EventType.SUCCEEDED);
    }

    /**
     * The worker's first announcement (the recorder listened before the worker started) says READY, once its own
     * exclusive queue exists, with what it is and what its Forge offers (soon after, should Forge have been too slow
     * to list its models at the first try); later ones follow every interval with a growing sequence number, and
     * repeat the offer only every {@code offer-every}.
     */
    @Test
    @Order(12)
    void announcesItselfReadyWithWhatItsForgeOffersOnceItsQueueExists() {
        List<WorkerStatus> all = events.statusesOf(WORKER);
        WorkerStatus first = all.get(0);

        assertThat(first.seq()).as("the very first announcement").isEqualTo(1);
        assertThat(first.state()).isEqualTo(WorkerState.READY);
        assertThat(queueAtFirstAnnouncement.get()).isEqualTo(TestBroker.QueueState.EXCLUSIVE_TO_ANOTHER_CONNECTION);
        assertThat(first.pool()).isEqualTo("default");
        assertThat(first.intervalMillis()).isEqualTo(200);
        assertThat(first.instance()).isNotNull();
        // with the first one, or (when Forge was too slow to list its models then) soon after, not 30 s later
        WorkerStatus offered = events.awaitStatus(WORKER, 0, s -> s.forge() != null, Duration.ofSeconds(1));
        assertThat(Duration.between(first.sentAt(), offered.sentAt())).isLessThan(Duration.ofSeconds(10));
        assertThat(offered.forge().identity())
                .as("its URL, a loopback host named by this machine's name")
                .isEqualTo("http://" + ForgeIdentity.localHostName() + ":"
                        + SIM.baseUrl().getPort());
        assertThat(offered.forge().checkpoints()).contains("flux1-dev-bnb-nf4-v2", "v1-5-pruned-emaonly");
        assertThat(offered.forge().samplers()).contains("Euler", "DPM++ 2M");
        assertThat(offered.forge().schedulers()).contains("Simple");
        assertThat(all).extracting(WorkerStatus::instance).containsOnly(first.instance());
        assertThat(all).extracting(WorkerStatus::seq).isSorted().doesNotHaveDuplicates();
        assertThat(all).extracting(WorkerStatus::state).doesNotContain(WorkerState.DRAINING, WorkerState.GONE);

        int mark = events.statusCount(WORKER);
        await().atMost(WAIT)
                .until(() -> events.statusesOf(WORKER, mark).stream()
                                .filter(s -> s.forge() != null)
                                .count()
                        >= 2);
        List<WorkerStatus> window = events.statusesOf(WORKER, mark);
        List<WorkerStatus> offers =
                window.stream().filter(s -> s.forge() != null).toList();
        WorkerStatus one = offers.get(0);
        WorkerStatus two = offers.get(1);
        assertThat(window)
                .as(EventRecorder.describeStatuses(window))
                .anyMatch(s -> s.forge() == null && s.seq() > one.seq() && s.seq() < two.seq());
        assertThat(Duration.between(one.sentAt(), two.sentAt()))
                .as("the offer repeats every offer-every")
                .isGreaterThanOrEqualTo(Duration.ofMillis(900));
        assertThat(two.forge()).isEqualTo(one.forge());
    }

    /**
     * Its exclusive queue goes with its consumer connection (an operator closed it, or the network dropped it, while
     * the publisher connection stayed): the worker connects again, declares its queue again, and once it says READY
     * the scheduler's hand-out reaches it.
     */
    @Test
    @Order(12)
    void comesBackReadyWithItsQueueAfterItsConsumerConnectionWasClosed() throws Exception {
        Map<String, String> before = broker.connectionsByClientName();
        List<String> consumerConnections = before.keySet().stream()
                .filter(name -> name.startsWith("rabbitConnectionFactory#"))
                .toList();
        assertThat(consumerConnections).as(before.keySet().toString()).hasSize(1);

        broker.closeConnection(before.get(consumerConnections.get(0)));

        await().atMost(WAIT)
                .until(() -> broker.connectionsByClientName().keySet().stream()
                        .anyMatch(name ->
                                name.startsWith("rabbitConnectionFactory#") && !consumerConnections.contains(name)));
        int mark = events.statusCount(WORKER);
        events.awaitStatus(WORKER, mark, s -> s.state() == WorkerState.READY, WAIT);
        UUID jobId = UUID.randomUUID();
        assertThat(broker.offer(jobId, aSpec().size(256, 256).steps(5).build()))
                .as("its queue is back")
                .isTrue();
        assertThat(events.awaitOutcome(jobId, WAIT).type()).isEqualTo(EventType.SUCCEEDED);
    }

    /**
     * While it works on a job the worker names the assignment in its announcements (the scheduler checks them
     * against what it assigned); once the job is settled it announces that it holds nothing. A job that loads a
     * checkpoint changes the offer (Forge keeps it loaded), which is announced at once: the offer is built from what
     * the worker measured when Forge answered, before the job is released, so the announcement of the release (or
     * one before it) names the new checkpoint.
     */
    @Test
    @Order(12)
    void namesTheAssignmentItHoldsAndTheCheckpointItLastLoaded() {
        int mark = events.statusCount(WORKER);

        UUID jobId = broker.submit(aSpec().size(256, 256)
                .steps(60)
                .checkpoint("v1-5-pruned-emaonly")
                .build());

        WorkerStatus holding =
                events.awaitStatus(WORKER, mark, s -> new WorkerStatus.Assignment(jobId, 1).equals(s.running()), WAIT);
        assertThat(holding.state()).isEqualTo(WorkerState.READY);
        assertThat(events.awaitOutcome(jobId, WAIT).type()).isEqualTo(EventType.SUCCEEDED);
        WorkerStatus idle = events.awaitStatus(WORKER, mark, s -> s.seq() > holding.seq() && s.running() == null, WAIT);
        List<WorkerStatus> offers = events.statusesOf(WORKER, mark).stream()
                .filter(s -> s.seq() <= idle.seq() && s.forge() != null)
                .toList();
        assertThat(offers)
                .as("the changed offer is announced by the time the job is released, not offer-every later")
                .last()
                .satisfies(s -> assertThat(s.forge().loadedCheckpoint()).isEqualTo("v1-5-pruned-emaonly"));
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
            assertThat(events.awaitOutcome(jobId, Duration.ofSeconds(60)).type())
                    .isEqualTo(EventType.SUCCEEDED);
        }
        // the confirm time is recorded once the broker confirmed the outcome, which the recorder may hear first
        await().atMost(WAIT)
                .until(() -> meters.get("gpu.worker.turnaround")
                                        .tag("stage", WorkerMetrics.CONFIRM)
                                        .timer()
                                        .count()
                                - turnaroundsBefore.get(WorkerMetrics.CONFIRM)
                        >= 20);
        ForgeSimAdmin.DutyCycle duty = admin().stats().duty();
        System.out.printf(
                "DUTY CYCLE (forge-sim, 20 x 1 s jobs, one worker): %.4f; busy %d ms over %d ms; "
                        + "idle gap p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms, mean %.2f ms (%d gaps)%n",
                duty.dutyCycle(),
                duty.busyMicros() / 1000,
                duty.spanMicros() / 1000,
                duty.gapP50Micros() / 1000.0,
                duty.gapP90Micros() / 1000.0,
                duty.gapP99Micros() / 1000.0,
                duty.gapMaxMicros() / 1000.0,
                duty.gapMeanMicros() / 1000.0,
                duty.gapCount());
        long gaps = gap.count() - gapsBefore;
        System.out.printf(
                "WORKER: listener idle gap (ack, broker hands over the next job) mean %.2f ms over %d gaps%n",
                (gap.totalTime(java.util.concurrent.TimeUnit.MILLISECONDS) - gapMillisBefore) / gaps, gaps);
        double turnaroundMillis = -turnaroundMillisBefore;
        for (Map.Entry<String, Long> before : turnaroundsBefore.entrySet()) {
            var timer = meters.get("gpu.worker.turnaround")
                    .tag("stage", before.getKey())
                    .timer();
            System.out.printf(
                    "WORKER: turnaround %s mean %.2f ms, max %.2f ms%n",
                    before.getKey(),
                    timer.mean(java.util.concurrent.TimeUnit.MILLISECONDS),
                    timer.max(java.util.concurrent.TimeUnit.MILLISECONDS));
            assertThat(timer.count() - before.getValue())
                    .as("one %s time per job", before.getKey())
                    .isEqualTo(20);
            turnaroundMillis += timer.totalTime(java.util.concurrent.TimeUnit.MILLISECONDS);
        }
        assertThat(turnaroundMillis)
                .as("the stages are the worker's time around Forge's 20 x 1 s, never Forge's own")
                .isPositive()
                .isLessThan(10_000);
        assertThat(duty.jobs()).isEqualTo(20);
        assertThat(duty.gapCount())
                .as("one idle gap between each two jobs: never two at once")
                .isEqualTo(19);
        assertThat(duty.busyMicros())
                .as("every job sampled its 20 steps of 50 ms")
                .isGreaterThanOrEqualTo(20 * 1_000_000L);
    }

    @Test
    @Order(12)
    void runsAJobOnTheCheckpointItAsksForAndRefusesNamesForgeWouldSilentlyReplace() {
        long received = admin().stats().calls().received();

        UUID onFlux = broker.submit(aSpec().size(256, 256)
                .steps(5)
                .sampler("Euler")
                .scheduler("Simple")
                .checkpoint("flux1-dev-bnb-nf4-v2")
                .build());
        UUID unknownSampler = broker.submit(
                aSpec().size(256, 256).steps(5).sampler("Kohaku 3000").build());

        JobSucceeded done = (JobSucceeded) events.awaitOutcome(onFlux, WAIT);
        assertThat(done.metadata())
                .containsEntry("sdModelName", "flux1-dev-bnb-nf4-v2")
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
        assertThat(health.body()).contains("\"forge\"").contains("UP");
        // issue 19: health details (Forge's URL, the breaker) are never public; the breaker is a metric
        assertThat(health.body())
                .doesNotContain("breaker")
                .doesNotContain(SIM.baseUrl().toString());
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

    /**
     * Issue 15: a person interrupting the job in Forge's web UI must not make it SUCCEEDED with a half image: the
     * attempt is given back, and the job runs again when the scheduler hands it out again.
     */
    @Test
    @Order(15)
    void givesBackAJobSomeoneElseInterruptedOnForgeAndRunsItAgainWhenHandedOutAgain() {
        double interrupted = foreign("interrupted");
        admin().interruptNext(1, 3);
        JobSpec spec = aSpec().size(256, 256).steps(10).build();

        UUID jobId = broker.submit(spec);

        JobRequeued requeued = (JobRequeued) events.await(jobId, e -> e.type() == EventType.REQUEUED, WAIT);
        assertThat(requeued.attempt()).isEqualTo(1);
        assertThat(requeued.reason()).contains("interrupted").contains("someone else");
        broker.submit(jobId, spec); // the scheduler hands it out again
        JobSucceeded done = (JobSucceeded) events.await(jobId, e -> e.type() == EventType.SUCCEEDED, WAIT);
        assertThat(done.attempt()).isEqualTo(2);
        assertThat(events.eventsOf(jobId))
                .filteredOn(e -> e.attempt() == 1)
                .extracting(JobEvent::type)
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
        admin().startForeignJob(
                        ForgeSimAdmin.ForeignJob.ui("a person's castle", 60).heldAtStep(20));
        await().atMost(WAIT).until(() -> admin().state().heldNow() == 1);

        UUID jobId = broker.submit(aSpec().size(256, 256).steps(30).build());
        await().atMost(WAIT)
                .until(() -> meters.get("gpu.worker.forge.busy.waiting").gauge().value() == 1.0);
        events.awaitType(jobId, EventType.HEARTBEAT, WAIT); // many progress polls and preview intervals later

        assertThat(events.eventsOf(jobId)).extracting(JobEvent::type).doesNotContain(EventType.PROGRESS);
        assertThat(events.previewsOf(jobId)).isEmpty();
        assertThat(admin().stats().calls().received() - received)
                .as("only the other client's job")
                .isEqualTo(1);
        admin().release();

        assertThat(events.awaitOutcome(jobId, WAIT).type()).isEqualTo(EventType.SUCCEEDED);
        assertThat(events.eventsOf(jobId))
                .filteredOn(e -> e instanceof JobProgressed)
                .extracting(e -> ((JobProgressed) e).steps())
                .isNotEmpty()
                .containsOnly(30);
        assertThat(events.previewsOf(jobId)).extracting(JobPreview::steps).containsOnly(30);
        assertThat(admin().stats().calls().interrupted() - interrupted).isZero();
        assertThat(meters.get("gpu.worker.forge.busy.waiting").gauge().value()).isZero();
    }

    /** Issue 15: cancelling a job that waits for another client's job must not interrupt that job. */
    @Test
    @Order(17)
    void cancelsAJobWaitingForAnotherClientsJobWithoutInterruptingThatJob() {
        long interrupted = admin().stats().calls().interrupted();
        admin().startForeignJob(
                        ForgeSimAdmin.ForeignJob.api("someone else's cat", 60).heldAtStep(20));
        await().atMost(WAIT).until(() -> admin().state().heldNow() == 1);
        UUID jobId = broker.submit(aSpec().size(256, 256).steps(30).build());
        await().atMost(WAIT)
                .until(() -> meters.get("gpu.worker.forge.busy.waiting").gauge().value() == 1.0);

        broker.cancel(jobId);

        JobCancelled cancelled = (JobCancelled) events.awaitOutcome(jobId, WAIT);
        assertThat(cancelled.reason()).contains("before Forge was called");
        assertThat(admin().state().heldNow()).as("the other job still runs").isEqualTo(1);
        admin().release();
        await().atMost(WAIT).until(() -> admin().state().foreignRunning() == 0);
        assertThat(admin().stats().calls().interrupted() - interrupted).isZero();
    }

    private double foreign(String event) {
        return meters.get("gpu.worker.forge.foreign")
                .tag("event", event)
                .counter()
                .count();
    }

    private HttpResponse<String> get(HttpClient http, String path) throws Exception {
        return http.send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private ForgeSimAdmin admin() {
        return SIM.admin();
    }

    private double eventResults(String type, String result) {
        var counter = meters.find("gpu.worker.events")
                .tag("type", type)
                .tag("result", result)
                .counter();
        return counter == null ? 0 : counter.count();
    }

    private double jobs(String outcome) {
        var counter = meters.find("gpu.worker.jobs")
                .tag("outcome", outcome)
                .tag("code", "none")
                .counter();
        return counter == null ? 0 : counter.count();
    }

    private double retries(String reason) {
        var counter =
                meters.find("gpu.worker.forge.retries").tag("reason", reason).counter();
        return counter == null ? 0 : counter.count();
    }
}
