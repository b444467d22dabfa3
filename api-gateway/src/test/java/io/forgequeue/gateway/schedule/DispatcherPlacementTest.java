package io.forgequeue.gateway.schedule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.anyInt;
import static org.mockito.ArgumentMatchers.anyString;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.times;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import io.forgequeue.gateway.apikey.ApiKeys;
import io.forgequeue.gateway.fleet.FleetProperties;
import io.forgequeue.gateway.fleet.WorkerDirectory;
import io.forgequeue.gateway.job.JobMoves;
import io.forgequeue.gateway.job.JobRow;
import io.forgequeue.gateway.queue.JobState;
import io.forgequeue.gateway.queue.QueueIndex;
import io.forgequeue.gateway.queue.QueueStats;
import io.forgequeue.gateway.quota.Priority;
import io.forgequeue.gateway.quota.Quota;
import io.forgequeue.gateway.system.GatewayMetrics;
import io.forgequeue.gateway.system.JobMessageTemplate;
import io.forgequeue.gateway.system.WireJson;
import io.forgequeue.model.JobMessage;
import io.forgequeue.model.JobSpec;
import io.forgequeue.model.JobStatus;
import io.forgequeue.model.Topology;
import io.forgequeue.model.WorkerState;
import io.forgequeue.model.WorkerStatus;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.mockito.ArgumentCaptor;
import org.springframework.amqp.core.Message;
import org.springframework.amqp.rabbit.connection.CorrelationData;
import org.springframework.amqp.rabbit.core.RabbitOperations;
import org.springframework.amqp.rabbit.core.RabbitTemplate;

/**
 * Placement within one round, with the soonest worker per loaded checkpoint remembered for the round (issue 21): a
 * worker is not given a checkpoint switch while another that has the checkpoint loaded would start the job sooner,
 * and what an assignment changes in the round is seen by the next decision. And the order in which a worker's job
 * messages are sent: the order of the decisions.
 */
class DispatcherPlacementTest {

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final QueueIndex index = new QueueIndex(SchedulerPolicy.FAIR.order(), System::nanoTime);
    private final WorkerDirectory fleet =
            new WorkerDirectory(new FleetProperties(Duration.ofSeconds(5), Duration.ofMinutes(10)));
    private final JobMoves moves = mock(JobMoves.class);
    private final ApiKeys keys = mock(ApiKeys.class);
    private final WireJson json = mock(WireJson.class);
    private final RabbitTemplate template = mock(RabbitTemplate.class);
    private final Dispatcher dispatcher = dispatcher(Duration.ofSeconds(30));
    private final UUID owner = UUID.randomUUID();
    private final Map<UUID, JobRow> waiting = new HashMap<>();
    private final Map<UUID, String> assignedTo = new HashMap<>();

    @Test
    void jobsOfACheckpointGoToTheWorkerThatHasItLoadedWhileItWouldStartThemSooner() {
        worker("w-a", "ckpt-a");
        worker("w-b", "ckpt-b");
        UUID first = job("ckpt-a", 0.0, 1, 1.0);
        UUID second = job("ckpt-a", 1.0, 2, 1.0);
        assignments(1.0);

        dispatcher.start();
        dispatcher.round(new JobMoves.Lease("gw-1", 1));

        // w-a runs the first one (1 s) and then the second; w-b would need a 10 s switch first
        assertThat(assignedTo).containsEntry(first, "w-a").containsEntry(second, "w-a");
    }

    /**
     * Issue 21's steady state (short queue, many GPUs per checkpoint): the one waiting job starts on the soonest GPU
     * holding its checkpoint, not after the holders' mean busy time (here 26 s, longer than the 10 s load, which made
     * idle GPUs switch for single jobs: 28 % of the simulated fleet's time went to loading).
     */
    @Test
    void aSingleWaitingJobGoesToTheSoonestWorkerHoldingItsCheckpointRatherThanCostAnIdleOneASwitch() {
        worker("w-soon", "ckpt-a");
        worker("w-late", "ckpt-a");
        worker("w-idle", "ckpt-b");
        running("w-soon", "ckpt-a", 2.0);
        running("w-late", "ckpt-a", 50.0);
        UUID waiting = job("ckpt-a", 0.0, 10, 1.0);
        assignments(1.0);

        dispatcher.start();
        dispatcher.round(new JobMoves.Lease("gw-1", 1));

        assertThat(assignedTo).containsEntry(waiting, "w-soon");
    }

    /**
     * Issue 21's burst: the head of a long backlog skipped by a GPU for a job of its own checkpoint is not delayed when
     * a GPU holding the head's checkpoint starts it sooner than the skipping GPU could load it; it is not counted as
     * passed over (counted against the whole backlog, every head was, and after max-pass-overs forced onto a switch).
     */
    @Test
    void theHeadOfALongBacklogIsNotPassedOverWhenAWorkerHoldingItsCheckpointStartsItSooner() {
        worker("w-a", "ckpt-a");
        worker("w-b", "ckpt-b");
        running("w-a", "ckpt-a", 1.0);
        UUID head = job("ckpt-a", 0.0, 1, 1.0);
        for (int i = 1; i < 40; i++) {
            job("ckpt-a", i, i + 10, 1.0);
        }
        UUID own = job("ckpt-b", 0.5, 2, 1.0);
        assignments(1.0);

        dispatcher.start();
        dispatcher.round(new JobMoves.Lease("gw-1", 1));

        assertThat(assignedTo).containsEntry(own, "w-b").containsEntry(head, "w-a");
        assertThat(registry.get("gpu.gateway.scheduler.passed-over").counter().count())
                .as("w-a frees up in 1 s; w-b would load ckpt-a for 10 s")
                .isZero();
    }

    @Test
    void aSwitchIsMadeWhereItSavesWaiting() {
        worker("w-a", "ckpt-a");
        worker("w-b", "ckpt-b");
        UUID[] jobs = new UUID[4];
        for (int i = 0; i < jobs.length; i++) {
            jobs[i] = job("ckpt-a", i, i + 1, 20.0);
        }
        assignments(20.0);

        dispatcher.start();
        dispatcher.round(new JobMoves.Lease("gw-1", 1));

        // the jobs cost 20 s each: once w-a holds two (40 s), w-b loading the checkpoint (10 s) starts sooner
        assertThat(assignedTo.values()).containsExactlyInAnyOrder("w-a", "w-a", "w-b", "w-b");
    }

    @Test
    void aJobThatIdleWorkersDeclineForAffinityWaitsNoLongerThanTheMaximumDelay() {
        // issue 17's mixed-fleet benchmark: a GPU holding another checkpoint declined every job of the busy checkpoint
        // ("another worker starts it sooner") round after round; no job counted as passed over, so none was ever
        // forced, and the jobs waited far beyond max-delay next to an idle GPU
        Dispatcher noDelay = dispatcher(Duration.ZERO);
        worker("w-a", "ckpt-a");
        worker("w-b", "ckpt-b");
        UUID[] jobs = new UUID[3];
        for (int i = 0; i < jobs.length; i++) {
            jobs[i] = job("ckpt-a", i, i + 1, 1.0);
        }
        assignments(1.0);
        noDelay.start();

        noDelay.round(new JobMoves.Lease("gw-1", 1));
        noDelay.round(new JobMoves.Lease("gw-1", 1));

        // w-b declines the jobs w-a frees up for before a 10 s load; once a declined job has waited max-delay (here
        // 0) it goes to the idle worker, switch or not (without the bound, w-b would decline them forever)
        assertThat(assignedTo).containsKeys(jobs).containsValue("w-b").containsValue("w-a");
    }

    @Test
    void withinTheMaximumDelayAnIdleWorkerStillDeclinesASwitchThatSavesNoWaiting() {
        worker("w-a", "ckpt-a");
        worker("w-b", "ckpt-b");
        UUID[] jobs = new UUID[3];
        for (int i = 0; i < jobs.length; i++) {
            jobs[i] = job("ckpt-a", i, i + 1, 1.0);
        }
        assignments(1.0);
        dispatcher.start();

        dispatcher.round(new JobMoves.Lease("gw-1", 1));
        dispatcher.round(new JobMoves.Lease("gw-1", 1));

        assertThat(assignedTo).doesNotContainKey(jobs[2]).doesNotContainValue("w-b");
    }

    @Test
    void anIdleWorkerSwitchesToACheckpointWhoseBacklogTheWorkerHoldingItWouldStartLaterThanTheLoad() {
        // issue 17's mixed-fleet benchmark: the GPU holding a checkpoint frees up for its next job within 2 s, sooner
        // than the 3 s load elsewhere, but 8 more jobs of it wait behind that one: it starts the last one after 9 s
        worker("w-a", "ckpt-a", Map.of("ckpt-a", 3.0));
        worker("w-b", "ckpt-b", Map.of("ckpt-a", 3.0, "ckpt-b", 3.0));
        UUID[] jobs = new UUID[10];
        for (int i = 0; i < jobs.length; i++) {
            jobs[i] = job("ckpt-a", i, i + 1, 1.0);
        }
        assignments(1.0);
        dispatcher.start();

        dispatcher.round(new JobMoves.Lease("gw-1", 1));

        assertThat(assignedTo.values()).containsExactlyInAnyOrder("w-a", "w-a", "w-b", "w-b");
    }

    @Test
    void anIdleWorkerDeclinesASwitchWhenTheWorkerHoldingTheCheckpointStartsItsWholeBacklogBeforeTheLoad() {
        worker("w-a", "ckpt-a", Map.of("ckpt-a", 3.0));
        worker("w-b", "ckpt-b", Map.of("ckpt-a", 3.0, "ckpt-b", 3.0));
        UUID[] jobs = new UUID[3];
        for (int i = 0; i < jobs.length; i++) {
            jobs[i] = job("ckpt-a", i, i + 1, 1.0);
        }
        assignments(1.0);
        dispatcher.start();

        dispatcher.round(new JobMoves.Lease("gw-1", 1));

        // w-a holds two (2 s) and starts the third after them, before w-b could have loaded ckpt-a
        assertThat(assignedTo.values()).containsExactly("w-a", "w-a");
    }

    @Test
    void aWorkerThatNeverLoadedACheckpointAssumesTheLoadTimeTheFleetMeasuredForIt() {
        // issue 17's mixed-fleet benchmark: a GPU that had never loaded a checkpoint assumed the default 10 s for it,
        // more than the other GPU's backlog, so it never switched to it, and never measured its real 2 s
        worker("w-a", "ckpt-a", Map.of("ckpt-a", 2.0));
        worker("w-b", "ckpt-b", Map.of("ckpt-b", 2.0));
        UUID[] jobs = new UUID[4];
        for (int i = 0; i < jobs.length; i++) {
            jobs[i] = job("ckpt-a", i, i + 1, 3.0);
        }
        assignments(3.0);
        dispatcher.start();

        dispatcher.round(new JobMoves.Lease("gw-1", 1));

        // w-a holds two (6 s of work); w-b loads ckpt-a in the 2 s w-a measured (not 10) and starts sooner
        assertThat(assignedTo.values()).containsExactlyInAnyOrder("w-a", "w-a", "w-b", "w-b");
    }

    @Test
    void theDecisionsOfOneRoundAreCommittedTogetherUpToTheBatchSize() {
        List<Sent> sent = recordSends();
        Dispatcher batchOfThree = dispatcher(Duration.ofSeconds(30), 3);
        worker("w-a", "ckpt-a");
        worker("w-b", "ckpt-b");
        job("ckpt-a", 0, 1, 1.0);
        job("ckpt-b", 1, 2, 1.0);
        job("ckpt-a", 2, 3, 1.0);
        UUID fourth = job("ckpt-b", 3, 4, 1.0);
        assignments(1.0);
        batchOfThree.start();

        batchOfThree.round(new JobMoves.Lease("gw-1", 1));

        // four free slots: the batch is full after three decisions and commits; w-b's job in it is not confirmed
        // yet, so w-b gets its second job only after the confirm (else it could overtake the first)
        ArgumentCaptor<List<JobMoves.Assignment>> statements = ArgumentCaptor.captor();
        verify(moves, times(1)).assignAll(statements.capture(), anyInt(), any());
        assertThat(statements.getValue()).hasSize(3);
        assertThat(assignedTo).hasSize(3).doesNotContainKey(fourth);

        sent.forEach(s -> s.correlation().getFuture().complete(new CorrelationData.Confirm(true, null)));
        batchOfThree.round(new JobMoves.Lease("gw-1", 1));

        verify(moves, times(2)).assignAll(statements.capture(), anyInt(), any());
        assertThat(statements.getValue()).extracting(JobMoves.Assignment::jobId).containsExactly(fourth);
        assertThat(assignedTo).containsEntry(fourth, "w-b");
        assertThat(registry.get("gpu.gateway.scheduler.commits").timer().count())
                .as("one sample per statement")
                .isEqualTo(2);
    }

    @Test
    void aKeysRunningQuotaHoldsForTheDecisionsOfABatchNotYetCommitted() {
        worker("w-a", "ckpt-a");
        worker("w-b", "ckpt-a");
        for (int i = 0; i < 4; i++) {
            job("ckpt-a", i, i + 1, 1.0);
        }
        assignments(1.0);
        when(keys.quotaOf(any())).thenReturn(new Quota(50, 2, 1.0, Priority.NORMAL));
        dispatcher.start();

        dispatcher.round(new JobMoves.Lease("gw-1", 1));

        // four free slots, but the key may hold two: the batch counts its own decisions against the quota
        assertThat(assignedTo).hasSize(2);
    }

    // ------------------------------------------------------------------------------------ job message order

    /** Job messages sent through the template, in order, with the channel operation (invoke) each went through. */
    private record Sent(String routingKey, CorrelationData correlation, int invoke) {}

    /** The template runs each invoke's sends and records them; the broker confirms nothing until the test says so. */
    private List<Sent> recordSends() {
        List<Sent> sent = new ArrayList<>();
        int[] invokes = {0};
        when(template.invoke(any())).thenAnswer(call -> {
            invokes[0]++;
            RabbitOperations.OperationsCallback<?> callback = call.getArgument(0);
            RabbitOperations ops = mock(RabbitOperations.class);
            org.mockito.Mockito.doAnswer(send -> {
                        sent.add(new Sent(send.getArgument(1), send.getArgument(3), invokes[0]));
                        return null;
                    })
                    .when(ops)
                    .send(anyString(), anyString(), any(Message.class), any(CorrelationData.class));
            return callback.doInRabbit(ops);
        });
        return sent;
    }

    /**
     * CI saw a worker receive its lookahead job before its running one: two sends one after the other went over two
     * channels (a channel with unconfirmed messages is not lent again), which the broker routes independently.
     */
    @Test
    void aRoundsJobMessagesGoOutOverOneChannelInTheOrderDecided() {
        List<Sent> sent = recordSends();
        worker("w-a", "ckpt-a");
        UUID first = job("ckpt-a", 0.0, 1, 1.0);
        UUID second = job("ckpt-a", 1.0, 2, 1.0);
        assignments(1.0);

        dispatcher.start();
        dispatcher.round(new JobMoves.Lease("gw-1", 1));

        assertThat(sent).extracting(s -> s.correlation().getId()).containsExactly(first + "/1", second + "/1");
        assertThat(sent).extracting(Sent::invoke).containsOnly(1);
        assertThat(sent).extracting(Sent::routingKey).containsOnly(Topology.workerQueue("w-a"));
    }

    @Test
    void aWorkerGetsNoNewJobWhileItsLastJobMessageIsNotConfirmed() {
        List<Sent> sent = recordSends();
        worker("w-a", "ckpt-a");
        UUID first = job("ckpt-a", 0.0, 1, 1.0);
        job("ckpt-a", 1.0, 2, 1.0);
        UUID third = job("ckpt-a", 2.0, 3, 1.0);
        assignments(1.0);
        dispatcher.start();
        dispatcher.round(new JobMoves.Lease("gw-1", 1));
        finished(first);

        dispatcher.round(new JobMoves.Lease("gw-1", 1));

        assertThat(assignedTo)
                .as("a slot is free, but a message sent now could overtake the unconfirmed ones")
                .doesNotContainKey(third);

        sent.forEach(s -> s.correlation().getFuture().complete(new CorrelationData.Confirm(true, null)));
        dispatcher.round(new JobMoves.Lease("gw-1", 1));

        assertThat(assignedTo).containsEntry(third, "w-a");
        assertThat(sent).hasSize(3);
        assertThat(sent.get(2).invoke()).isEqualTo(2);
    }

    private Dispatcher dispatcher(Duration maxDelay) {
        return dispatcher(maxDelay, 32);
    }

    private Dispatcher dispatcher(Duration maxDelay, int maxBatch) {
        return new Dispatcher(
                mock(SchedulerLease.class),
                index,
                fleet,
                moves,
                keys,
                new JobMessageTemplate(template),
                mock(RabbitTemplate.class),
                json,
                TestSchedulerProperties.of(false, 5, maxDelay, maxBatch),
                new SchedulerMetrics(registry, new GatewayMetrics(registry)),
                oneSecondPerStandardImage(),
                Brokers.connected());
    }

    /** Assignments succeed (the job's row as assigned, with {@code cost}), and are recorded in {@code assignedTo}. */
    private void assignments(double cost) {
        when(keys.quotaOf(any())).thenReturn(new Quota(50, 0, 1.0, Priority.NORMAL));
        when(json.toBytes(any())).thenReturn(new byte[] {'{', '}'});
        when(moves.assignAll(any(), anyInt(), any())).thenAnswer(call -> {
            List<JobMoves.Assignment> decided = call.getArgument(0);
            List<JobMoves.Assigned> committed = new ArrayList<>();
            for (JobMoves.Assignment a : decided) {
                assignedTo.put(a.jobId(), a.worker());
                JobRow w = waiting.get(a.jobId());
                JobRow row = new JobRow(
                        a.jobId(),
                        owner,
                        "default",
                        w.ticket(),
                        w.spec(),
                        JobStatus.QUEUED,
                        0,
                        1,
                        0,
                        null,
                        null,
                        null,
                        Map.of(),
                        List.of(),
                        null,
                        Instant.now(),
                        null,
                        null,
                        null,
                        2,
                        1,
                        1,
                        w.fairTag(),
                        cost,
                        a.worker(),
                        Instant.now(),
                        Instant.now());
                committed.add(new JobMoves.Assigned(
                        row, new JobMessage(a.jobId(), 1, a.worker(), w.ticket(), "default", w.spec(), Instant.now())));
            }
            return committed;
        });
    }

    /** Job costs are in standard images; here one takes a GPU second, so a job's cost reads as its seconds. */
    private static QueueStats oneSecondPerStandardImage() {
        QueueStats stats = mock(QueueStats.class);
        when(stats.secondsPerStandardImage(anyString())).thenReturn(1.0);
        return stats;
    }

    private void worker(String id, String loaded) {
        worker(id, loaded, Map.of());
    }

    private void worker(String id, String loaded, Map<String, Double> loadSeconds) {
        fleet.accept(new WorkerStatus(
                id,
                UUID.randomUUID(),
                "default",
                WorkerState.READY,
                1,
                null,
                new WorkerStatus.ForgeOffer(
                        "http://forge-" + id,
                        List.of("ckpt-a", "ckpt-b"),
                        List.of(),
                        List.of(),
                        loaded,
                        loadSeconds,
                        null),
                1000,
                Instant.now()));
    }

    /** The job, assigned by an earlier round, succeeded: its worker holds it no longer. */
    private void finished(UUID id) {
        JobRow w = waiting.get(id);
        index.apply(new JobState(
                id,
                3,
                JobStatus.SUCCEEDED,
                "default",
                owner,
                1,
                w.fairTag(),
                w.ticket(),
                w.spec().checkpoint(),
                null,
                1.0,
                0L,
                null,
                1,
                0L,
                0L));
    }

    /** A job of {@code seconds} that {@code worker} started just now. */
    private void running(String worker, String checkpoint, double seconds) {
        long now = System.currentTimeMillis();
        index.apply(new JobState(
                UUID.randomUUID(),
                3,
                JobStatus.RUNNING,
                "default",
                UUID.randomUUID(),
                1,
                0,
                0,
                checkpoint,
                null,
                seconds,
                now,
                worker,
                1,
                now,
                now));
    }

    private UUID job(String checkpoint, double tag, long ticket, double cost) {
        UUID id = UUID.randomUUID();
        JobSpec spec = new JobSpec("p", null, 512, 512, 20, 7.0, null, null, 1, checkpoint, 1);
        JobRow row = new JobRow(
                id,
                owner,
                "default",
                ticket,
                spec,
                JobStatus.QUEUED,
                0,
                0,
                0,
                null,
                null,
                null,
                Map.of(),
                List.of(),
                null,
                Instant.now(),
                null,
                null,
                null,
                1,
                1,
                1,
                tag,
                cost,
                null,
                null,
                Instant.now());
        waiting.put(id, row);
        index.apply(row.toQueueState());
        return id;
    }
}
