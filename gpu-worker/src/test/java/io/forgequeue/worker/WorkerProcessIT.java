package io.forgequeue.worker;

import io.forgequeue.forgesim.ForgeSimProcess;
import io.forgequeue.model.EventType;
import io.forgequeue.model.JobEvent;
import io.forgequeue.model.JobRequeued;
import io.forgequeue.model.Topology;
import io.forgequeue.testsupport.AppLogs;
import io.forgequeue.testsupport.RabbitEndpoint;
import io.forgequeue.testsupport.TestInfrastructure;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

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
 * Workers as separate OS processes (the packaged jar) sharing one queue and one forge-sim: a worker killed with
 * SIGKILL mid-job gives its job back through the broker; SIGTERM lets the running job finish within the grace
 * period, or interrupts Forge and gives the job back when the grace period is over. Three workers start together;
 * each scenario removes one.
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
        sim = ForgeSimProcess.builder().args("--step-ms", "50", "--model-load-ms", "0").echoOutput(false)
                .logTo(AppLogs.register("forge-sim", AppLogs.file("worker-process-it-forge"))).start();
        events = new EventRecorder(RABBIT);
        broker = new TestBroker(RABBIT);
        for (String id : List.of("proc-a", "proc-b", "proc-c")) {
            workers.put(id, WorkerProcess.start(id, RABBIT, sim.baseUrl(), "--worker.shutdown-grace=5s",
                    "--worker.progress.poll-interval=100ms", "--worker.progress.min-interval=100ms"));
        }
        for (WorkerProcess worker : workers.values()) {
            worker.awaitStarted(Duration.ofSeconds(90));
        }
        await().atMost(WAIT).until(() -> broker.consumerCount(Topology.workerQueue(TestBroker.WORKER)) == 3);
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
    void aWorkerKilledMidJobGivesTheJobBackAndAnotherWorkerFinishesItExactlyOnce() throws Exception {
        sim.admin().holdAtStep(5); // the job stays mid-sampling until its worker is dead
        UUID jobId = broker.submit(aSpec().size(256, 256).steps(40).build());
        JobEvent running = events.awaitType(jobId, EventType.RUNNING, WAIT);
        events.awaitType(jobId, EventType.PROGRESS, WAIT);
        await().atMost(WAIT).until(() -> sim.admin().state().heldNow() == 1);
        WorkerProcess victim = workers.remove(running.workerId());

        victim.kill();
        sim.admin().clearFaults(); // the dead worker's call runs out on the GPU, as on a real Forge

        JobEvent done = events.awaitType(jobId, EventType.SUCCEEDED, WAIT);
        assertThat(done.attempt()).isEqualTo(2);
        assertThat(done.workerId()).isNotEqualTo(victim.id());
        EventRecorder.sleep(2_000);
        List<JobEvent> all = events.eventsOf(jobId);
        assertThat(all.stream().filter(e -> e.type() == EventType.SUCCEEDED)).as(EventRecorder.describe(all))
                .hasSize(1);
        assertThat(all.stream().filter(e -> e.type() == EventType.RUNNING).map(JobEvent::attempt))
                .containsExactly(1, 2);
        assertThat(broker.messageCount(Topology.workerQueue(TestBroker.WORKER))).isZero();
        assertThat(events.problems()).isEmpty();
    }

    @Test
    @Order(2)
    void sigtermLetsTheRunningJobFinishWithinTheGracePeriod() throws Exception {
        sim.admin().holdAtStep(19); // one step (50 ms) left when the worker has begun to shut down
        UUID jobId = broker.submit(aSpec().size(256, 256).steps(20).build());
        JobEvent running = events.awaitType(jobId, EventType.RUNNING, WAIT);
        await().atMost(WAIT).until(() -> sim.admin().state().heldNow() == 1);
        WorkerProcess worker = workers.remove(running.workerId());

        worker.terminate();
        await().atMost(WAIT).until(() -> worker.output().stream().anyMatch(line -> line.contains("Shutting down: no new jobs")));
        sim.admin().clearFaults();

        JobEvent done = events.awaitOutcome(jobId, WAIT);
        assertThat(done.type()).isEqualTo(EventType.SUCCEEDED);
        assertThat(done.attempt()).isEqualTo(1);
        assertThat(done.workerId()).isEqualTo(worker.id());
        worker.awaitExit(WAIT);
        assertThat(worker.output()).anyMatch(line -> line.contains("Shutting down: no new jobs"));
    }

    @Test
    @Order(3)
    void sigtermInterruptsForgeAndGivesTheJobBackWhenTheGracePeriodIsOver() throws Exception {
        assertThat(workers).hasSize(1);
        WorkerProcess last = workers.values().iterator().next();
        long interrupted = sim.admin().stats().calls().interrupted();
        sim.admin().holdAtStep(5); // the job outlasts the grace period: it is held until the worker interrupts it
        UUID jobId = broker.submit(aSpec().size(256, 256).steps(20).build());
        events.awaitType(jobId, EventType.PROGRESS, WAIT);
        await().atMost(WAIT).until(() -> sim.admin().state().heldNow() == 1);

        last.terminate();

        JobRequeued requeued = (JobRequeued) events.awaitOutcome(jobId, WAIT);
        assertThat(requeued.attempt()).isEqualTo(1);
        assertThat(requeued.reason()).contains("shutting down");
        last.awaitExit(WAIT);
        workers.clear();
        assertThat(sim.admin().stats().calls().interrupted() - interrupted).isEqualTo(1);
        assertThat(broker.messageCount(Topology.workerQueue(TestBroker.WORKER))).as("the job waits for another worker")
                .isEqualTo(1);
        List<EventType> types = new ArrayList<>();
        events.eventsOf(jobId).forEach(e -> types.add(e.type()));
        assertThat(types).doesNotContain(EventType.SUCCEEDED, EventType.FAILED);
    }
}
