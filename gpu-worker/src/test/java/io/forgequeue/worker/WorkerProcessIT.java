package io.forgequeue.worker;

import static io.forgequeue.model.fixtures.JobSpecBuilder.aSpec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.forgequeue.forgesim.ForgeSimProcess;
import io.forgequeue.model.EventType;
import io.forgequeue.model.JobEvent;
import io.forgequeue.model.JobRequeued;
import io.forgequeue.model.JobSpec;
import io.forgequeue.model.Topology;
import io.forgequeue.model.WorkerState;
import io.forgequeue.model.WorkerStatus;
import io.forgequeue.testsupport.AppLogs;
import io.forgequeue.testsupport.RabbitEndpoint;
import io.forgequeue.testsupport.TestInfrastructure;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Workers as separate OS processes (the packaged jar) sharing one forge-sim, each with its own job queue, while the
 * test plays the scheduler ({@link TestBroker}). A worker killed with SIGKILL mid-job falls silent and its queue goes
 * with its connection, so the scheduler hands the job to another worker; SIGTERM makes a worker announce DRAINING,
 * finish the running job within the grace period (or interrupt Forge and give the job back once it is over), never
 * start the job waiting behind it, and say GONE last. Three workers start together; each scenario removes one.
 * forge-sim holds each job at a step until the test has seen what it checks, rather than counting on its length.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class WorkerProcessIT {

    static final Duration WAIT = Duration.ofSeconds(30);
    static final RabbitEndpoint RABBIT = TestInfrastructure.rabbit().withFreshVirtualHost("worker-process-it");
    static ForgeSimProcess sim;
    static EventRecorder events;
    static TestBroker broker;
    static final Map<String, WorkerProcess> workers = new LinkedHashMap<>();

    @BeforeAll
    static void start() throws Exception {
        sim = ForgeSimProcess.builder()
                .args("--step-ms", "50", "--model-load-ms", "0")
                .echoOutput(false)
                .logTo(AppLogs.register("forge-sim", AppLogs.file("worker-process-it-forge")))
                .start();
        events = new EventRecorder(RABBIT);
        broker = new TestBroker(RABBIT);
        // proc-b's grace is long enough for its job to finish; proc-c's is over before its job is
        Map<String, String> graces = Map.of("proc-a", "2s", "proc-b", "20s", "proc-c", "2s");
        for (String id : List.of("proc-a", "proc-b", "proc-c")) {
            workers.put(
                    id,
                    WorkerProcess.start(
                            id,
                            RABBIT,
                            sim.baseUrl(),
                            "--worker.shutdown-grace=" + graces.get(id),
                            "--worker.progress.poll-interval=100ms",
                            "--worker.progress.min-interval=100ms",
                            "--worker.presence.interval=300ms"));
        }
        for (WorkerProcess worker : workers.values()) {
            worker.awaitStarted(Duration.ofSeconds(180)); // three JVMs at once: slow on a busy 2-core machine
        }
        for (String id : workers.keySet()) {
            events.awaitStatus(id, 0, s -> s.state() == WorkerState.READY, WAIT);
        }
    }

    @AfterAll
    static void stop() throws Exception {
        for (WorkerProcess worker : workers.values()) {
            worker.close();
        }
        if (events != null) {
            events.close();
        }
        if (broker != null) {
            broker.close();
        }
        if (sim != null) {
            sim.close();
        }
    }

    @Test
    @Order(1)
    void aWorkerKilledMidJobLosesItsQueueAndTheJobRunsOnceElsewhereWhenHandedOutAgain() throws Exception {
        List<String> ids = new ArrayList<>(workers.keySet());
        WorkerProcess victim = workers.remove(ids.get(0));
        String other = ids.get(1);
        JobSpec spec = aSpec().size(256, 256).steps(40).build();
        sim.admin().holdAtStep(5); // the job stays mid-sampling until its worker is dead
        UUID jobId = broker.to(victim.id()).submit(spec);
        events.awaitType(jobId, EventType.RUNNING, WAIT);
        events.awaitType(jobId, EventType.PROGRESS, WAIT);
        await().atMost(WAIT).until(() -> sim.admin().state().heldNow() == 1);
        assertThat(broker.queueState(Topology.workerQueue(victim.id())))
                .isEqualTo(TestBroker.QueueState.EXCLUSIVE_TO_ANOTHER_CONNECTION);

        victim.kill();
        sim.admin().clearFaults(); // the dead worker's call runs out on the GPU, as on a real Forge

        await().atMost(WAIT)
                .until(() -> broker.queueState(Topology.workerQueue(victim.id())) == TestBroker.QueueState.MISSING);
        assertThat(broker.to(victim.id()).offer(UUID.randomUUID(), spec))
                .as("a hand-out to the dead worker comes back to the scheduler")
                .isFalse();
        assertThat(events.lastStatus(victim.id()).state())
                .as("killed: no goodbye, it just falls silent")
                .isNotEqualTo(WorkerState.GONE);

        broker.to(other).submit(jobId, spec); // the scheduler revokes the silent worker's job and hands it out again

        JobEvent done = events.awaitType(jobId, EventType.SUCCEEDED, WAIT);
        assertThat(done.attempt()).isEqualTo(2);
        assertThat(done.workerId()).isEqualTo(other);
        List<JobEvent> all = events.eventsOf(jobId);
        assertThat(all.stream().filter(e -> e.type() == EventType.SUCCEEDED))
                .as(EventRecorder.describe(all))
                .hasSize(1);
        assertThat(all.stream().filter(e -> e.type() == EventType.RUNNING).map(JobEvent::attempt))
                .containsExactly(1, 2);
        assertThat(events.problems()).isEmpty();
    }

    @Test
    @Order(2)
    void sigtermAnnouncesDrainingFinishesTheRunningJobNeverStartsTheNextAndSaysGoneLast() throws Exception {
        WorkerProcess worker = workers.remove(workers.keySet().iterator().next());
        broker.to(worker.id());
        sim.admin().holdAtStep(19); // one step (50 ms) left when the worker has begun to shut down
        UUID jobId = broker.submit(aSpec().size(256, 256).steps(20).build());
        UUID lookahead = broker.submit(aSpec().size(256, 256).steps(5).build());
        events.awaitType(jobId, EventType.RUNNING, WAIT);
        await().atMost(WAIT).until(() -> sim.admin().state().heldNow() == 1);
        int mark = events.statusCount(worker.id());

        worker.terminate();
        await().atMost(WAIT)
                .until(() -> worker.output().stream().anyMatch(line -> line.contains("Shutting down: no new jobs")));
        sim.admin().clearFaults();

        WorkerStatus draining = events.awaitStatus(worker.id(), mark, s -> s.state() == WorkerState.DRAINING, WAIT);
        JobEvent done = events.awaitOutcome(jobId, WAIT);
        assertThat(done.type()).isEqualTo(EventType.SUCCEEDED);
        assertThat(done.attempt()).isEqualTo(1);
        assertThat(done.workerId()).isEqualTo(worker.id());
        worker.awaitExit(WAIT);
        assertThat(worker.output()).anyMatch(line -> line.contains("Shutting down: no new jobs"));
        events.awaitStatus(worker.id(), mark, s -> s.state() == WorkerState.GONE, WAIT);
        List<WorkerStatus> last = events.statusesOf(worker.id(), mark);
        assertThat(last.get(last.size() - 1).state())
                .as(EventRecorder.describeStatuses(last))
                .isEqualTo(WorkerState.GONE);
        assertThat(last.stream().filter(s -> s.seq() >= draining.seq()).map(WorkerStatus::state))
                .as("from DRAINING on, nothing else until GONE")
                .containsOnly(WorkerState.DRAINING, WorkerState.GONE);
        assertThat(last)
                .filteredOn(s -> s.state() == WorkerState.DRAINING)
                .as("it keeps naming the job it finishes")
                .anyMatch(s -> jobId.equals(runningJob(s)));
        assertThat(events.eventsOf(lookahead))
                .as("the job waiting behind it never started")
                .isEmpty();
        assertThat(broker.queueState(Topology.workerQueue(worker.id()))).isEqualTo(TestBroker.QueueState.MISSING);
    }

    @Test
    @Order(3)
    void sigtermInterruptsForgeAndGivesTheJobBackWhenTheGracePeriodIsOver() throws Exception {
        assertThat(workers).hasSize(1);
        WorkerProcess last = workers.values().iterator().next();
        long interrupted = sim.admin().stats().calls().interrupted();
        sim.admin().holdAtStep(5); // the job outlasts the grace period: it is held until the worker interrupts it
        UUID jobId =
                broker.to(last.id()).submit(aSpec().size(256, 256).steps(20).build());
        events.awaitType(jobId, EventType.PROGRESS, WAIT);
        await().atMost(WAIT).until(() -> sim.admin().state().heldNow() == 1);
        int mark = events.statusCount(last.id());

        last.terminate();

        JobRequeued requeued = (JobRequeued) events.awaitOutcome(jobId, WAIT);
        assertThat(requeued.attempt()).isEqualTo(1);
        assertThat(requeued.reason()).contains("shutting down");
        last.awaitExit(WAIT);
        workers.clear();
        events.awaitStatus(last.id(), mark, s -> s.state() == WorkerState.GONE, WAIT);
        assertThat(sim.admin().stats().calls().interrupted() - interrupted).isEqualTo(1);
        assertThat(events.eventsOf(jobId))
                .extracting(JobEvent::type)
                .doesNotContain(EventType.SUCCEEDED, EventType.FAILED);
        List<WorkerStatus> statuses = events.statusesOf(last.id(), mark);
        assertThat(statuses)
                .extracting(WorkerStatus::state)
                .as(EventRecorder.describeStatuses(statuses))
                .contains(WorkerState.DRAINING)
                .last()
                .isEqualTo(WorkerState.GONE);
        assertThat(broker.queueState(Topology.workerQueue(last.id())))
                .as("nothing of it is left to run the job")
                .isEqualTo(TestBroker.QueueState.MISSING);
    }

    private static UUID runningJob(WorkerStatus status) {
        return status.running() == null ? null : status.running().jobId();
    }
}
