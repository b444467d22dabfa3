package io.forgequeue.worker;

import static io.forgequeue.model.fixtures.JobSpecBuilder.aSpec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.forgequeue.forgesim.ForgeSimAdmin;
import io.forgequeue.forgesim.ForgeSimProcess;
import io.forgequeue.model.EventType;
import io.forgequeue.model.JobEvent;
import io.forgequeue.model.JobSpec;
import io.forgequeue.model.WorkerState;
import io.forgequeue.model.WorkerStatus;
import io.forgequeue.testsupport.RabbitEndpoint;
import io.forgequeue.testsupport.TestInfrastructure;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * A worker whose Forge is down when it starts, and whose outcome retry is short (a second). First it announces PAUSED
 * (so the scheduler hands it nothing) until Forge answers, then READY with what Forge offers. Then the broker refuses
 * a job's outcome for longer than {@code worker.outcome.retry-for}: the worker drops the message rather than hand it
 * back to its own queue (where it would only run again here), and takes the next job. Its own Spring context
 * (closed afterwards) and forge-sim; the test plays the scheduler.
 */
@SpringBootTest(
        webEnvironment = SpringBootTest.WebEnvironment.NONE,
        properties = {
            "worker.id=paused-start",
            "worker.forge.call-timeout=2s",
            "worker.forge.poll-timeout=1s",
            "worker.forge.retry.outage-delay=50ms",
            "worker.forge.retry.outage-max-delay=200ms",
            "worker.forge.breaker.delay=1s",
            "worker.forge.breaker.probe-interval=200ms",
            "worker.progress.poll-interval=100ms",
            "worker.confirm-timeout=1s",
            "worker.outcome.retry-for=1s",
            "worker.outcome.retry-delay=100ms",
            "worker.outcome.retry-max-delay=200ms",
            "worker.presence.interval=200ms"
        })
@DirtiesContext
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class WorkerStartsPausedIT {

    static final Duration WAIT = Duration.ofSeconds(20);
    static final String WORKER = "paused-start";
    static final RabbitEndpoint RABBIT = TestInfrastructure.rabbit().withFreshVirtualHost("worker-paused-start");
    static final ForgeSimProcess SIM = startSimDown();

    static EventRecorder events;
    static TestBroker broker;

    @Autowired
    MeterRegistry meters;

    /** Down before the Spring context (and so the worker) starts. */
    static ForgeSimProcess startSimDown() {
        try {
            ForgeSimProcess sim = ForgeSimProcess.start("--step-ms", "20", "--model-load-ms", "0");
            sim.admin().goDown();
            return sim;
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
        broker = new TestBroker(RABBIT).to(WORKER);
    }

    @AfterAll
    static void stop() throws Exception {
        events.close();
        broker.close();
        SIM.close();
    }

    @Test
    @Order(1)
    void announcesPausedWhileItsForgeHasNotAnsweredSinceStartThenReadyWithWhatForgeOffers() {
        events.awaitStatus(WORKER, 0, s -> s.seq() >= 3, WAIT);

        List<WorkerStatus> first = events.statusesOf(WORKER);
        assertThat(first.get(0).seq()).as("the very first announcement").isEqualTo(1);
        assertThat(first).as(EventRecorder.describeStatuses(first)).allSatisfy(s -> {
            assertThat(s.state()).isEqualTo(WorkerState.PAUSED);
            assertThat(s.running()).isNull();
            assertThat(s.forge()).as("Forge never answered").isNull();
        });
        assertThat(meters.get("gpu.worker.consuming").gauge().value()).isZero();
        int mark = events.statusCount(WORKER);

        admin().comeUp();

        WorkerStatus ready = events.awaitStatus(WORKER, mark, s -> s.state() == WorkerState.READY, WAIT);
        assertThat(events.statusesOf(WORKER, mark))
                .filteredOn(s -> s.seq() < ready.seq())
                .extracting(WorkerStatus::state)
                .containsOnly(WorkerState.PAUSED);
        UUID jobId = UUID.randomUUID();
        assertThat(broker.offer(jobId, aSpec().size(256, 256).steps(5).build()))
                .as("once it says READY its queue takes the scheduler's job")
                .isTrue();
        assertThat(events.awaitOutcome(jobId, WAIT).type()).isEqualTo(EventType.SUCCEEDED);
        WorkerStatus offered = events.awaitStatus(WORKER, mark, s -> s.forge() != null, Duration.ofSeconds(10));
        assertThat(offered.forge().checkpoints()).contains("flux1-dev-bnb-nf4-v2");
    }

    @Test
    @Order(2)
    void dropsAJobWhoseOutcomeTheBrokerRefusesLongerThanRetryForInsteadOfRunningItAgain() throws Exception {
        events.awaitStatus(WORKER, 0, s -> s.state() == WorkerState.READY, WAIT);
        JobSpec spec = aSpec().size(256, 256).steps(5).build();
        long received = admin().stats().calls().received();
        double nacked = nacked();
        UUID jobId;
        broker.refuseEvents("paused-start-refuse-outcomes", "job.succeeded");
        try {
            int mark = events.statusCount(WORKER);
            jobId = broker.submit(spec);
            UUID held = jobId;
            WorkerStatus holding = events.awaitStatus(
                    WORKER, mark, s -> new WorkerStatus.Assignment(held, 1).equals(s.running()), WAIT);

            events.awaitStatus(WORKER, mark, s -> s.seq() > holding.seq() && s.running() == null, WAIT);
            assertThat(nacked() - nacked)
                    .as("refused, sent again, refused again")
                    .isGreaterThanOrEqualTo(2);
        } finally {
            broker.deleteQueue("paused-start-refuse-outcomes");
        }

        UUID next = broker.submit(spec);

        assertThat(events.awaitOutcome(next, WAIT).type()).isEqualTo(EventType.SUCCEEDED);
        List<JobEvent> dropped = events.eventsOf(jobId);
        assertThat(dropped)
                .as(EventRecorder.describe(dropped))
                .filteredOn(e -> e.type() == EventType.RUNNING)
                .hasSize(1);
        assertThat(dropped).extracting(JobEvent::type).doesNotContain(EventType.REQUEUED, EventType.FAILED);
        assertThat(admin().stats().calls().received() - received)
                .as("Forge ran the dropped job once, then the next")
                .isEqualTo(2);
        await().atMost(WAIT).until(() -> events.lastStatus(WORKER).running() == null);
    }

    private double nacked() {
        var counter = meters.find("gpu.worker.events")
                .tag("type", "SUCCEEDED")
                .tag("result", "nacked")
                .counter();
        return counter == null ? 0 : counter.count();
    }

    private static ForgeSimAdmin admin() {
        return SIM.admin();
    }
}
