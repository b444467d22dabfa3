package io.forgequeue.gateway.schedule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.anyInt;
import static org.mockito.ArgumentMatchers.anyLong;
import static org.mockito.ArgumentMatchers.anyString;
import static org.mockito.ArgumentMatchers.eq;
import static org.mockito.Mockito.atLeast;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
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
import io.forgequeue.gateway.system.BrokerConnection;
import io.forgequeue.gateway.system.GatewayMetrics;
import io.forgequeue.gateway.system.JobMessageTemplate;
import io.forgequeue.gateway.system.WireJson;
import io.forgequeue.model.CancelJobCommand;
import io.forgequeue.model.JobStatus;
import io.forgequeue.model.Topology;
import io.forgequeue.model.WorkerState;
import io.forgequeue.model.WorkerStatus;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.mockito.ArgumentCaptor;
import org.springframework.amqp.core.Message;
import org.springframework.amqp.rabbit.core.RabbitTemplate;

/** What the leader does when it takes assignments back: every one taken back is told to stop at once. */
class DispatcherTakeBackTest {

    private static final Duration PRESENCE = Duration.ofMillis(100);
    private static final JobMoves.Lease LEASE = new JobMoves.Lease("gw1", 1);
    private static final UUID INSTANCE = UUID.randomUUID();

    private final QueueIndex index = mock(QueueIndex.class);
    /** The fleet's clock: it moves only when a test moves it, so no pause of the machine makes a worker silent. */
    private final AtomicLong clock = new AtomicLong(System.nanoTime());

    private final WorkerDirectory fleet =
            new WorkerDirectory(new FleetProperties(PRESENCE, Duration.ofMinutes(10)), clock::get);
    private final JobMoves moves = mock(JobMoves.class);
    private final RabbitTemplate control = mock(RabbitTemplate.class);
    private final WireJson json = new WireJson();
    private final BrokerConnection broker = mock(BrokerConnection.class);
    private final Dispatcher dispatcher;

    DispatcherTakeBackTest() {
        when(broker.isConnected()).thenReturn(true);
        long connectedAt = clock.get(); // connected to the broker from now on
        when(broker.hearingSinceNanos(anyLong())).thenReturn(connectedAt);
        dispatcher = dispatcher(TestSchedulerProperties.defaults(true));
    }

    private Dispatcher dispatcher(SchedulerProperties properties) {
        return dispatcher(fleet, properties);
    }

    private Dispatcher dispatcher(WorkerDirectory fleet, SchedulerProperties properties) {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        return new Dispatcher(
                mock(SchedulerLease.class),
                index,
                fleet,
                moves,
                mock(ApiKeys.class),
                new JobMessageTemplate(mock(RabbitTemplate.class)),
                control,
                json,
                properties,
                new SchedulerMetrics(registry, new GatewayMetrics(registry)),
                mock(QueueStats.class),
                broker);
    }

    @Test
    void theAssignmentsOfAWorkerTakenForLostAreToldToStop() {
        UUID running = UUID.randomUUID();
        UUID assigned = UUID.randomUUID();
        fleet.accept(status("w1", WorkerState.READY, 1));
        when(index.workersHolding()).thenReturn(Set.of("w1"));
        List<JobRow> revoked = List.of(row(running, 3), row(assigned, 1));
        when(moves.revokeWorker(eq("w1"), eq(JobMoves.Scope.ALL), anyString(), eq(LEASE)))
                .thenReturn(revoked);
        sleep(PRESENCE.multipliedBy(3)); // silent past the presence timeout

        dispatcher.round(LEASE);

        assertThat(stopsSent()).containsExactlyInAnyOrder(running + "#3@w1", assigned + "#1@w1");
    }

    // Bug regression (reliability scenario 2, 1 run in 3): after a broker restart the gateway reconnected first and
    // took both workers for lost 0.6 s before their first announcement came through; the jobs they were running
    // went back to the queue, ran again elsewhere, and two jobs completed twice.
    @Test
    void afterTheBrokerConnectionCameBackASilentWorkerIsTakenForLostOnlyOnceTheReconnectGraceIsOver() {
        Duration grace = Duration.ofSeconds(2);
        Dispatcher leader = dispatcher(TestSchedulerProperties.withReconnectGrace(grace));
        UUID running = UUID.randomUUID();
        fleet.accept(status("w1", WorkerState.READY, 1));
        when(broker.isReconnection()).thenReturn(true);
        when(broker.hearingSinceNanos(anyLong())).thenReturn(clock.get()); // the connection just came back
        when(index.workersHolding()).thenReturn(Set.of("w1"));
        List<JobRow> revoked = List.of(row(running, 1));
        when(moves.revokeWorker(eq("w1"), eq(JobMoves.Scope.ALL), anyString(), eq(LEASE)))
                .thenReturn(revoked);
        sleep(PRESENCE.multipliedBy(3)); // silent past the presence timeout, well within the grace

        leader.round(LEASE);

        verify(moves, never()).revokeWorker(any(), any(), any(), any());
        assertThat(stopsSent()).isEmpty();

        // still silent once the grace and a presence timeout have passed since the connection came back
        when(broker.hearingSinceNanos(anyLong()))
                .thenReturn(clock.get() - grace.plus(PRESENCE.multipliedBy(2)).toNanos());
        leader.round(LEASE);

        verify(moves).revokeWorker(eq("w1"), eq(JobMoves.Scope.ALL), anyString(), eq(LEASE));
        assertThat(stopsSent()).containsExactly(running + "#1@w1");
    }

    // Bug regression (MetricsIT, 1 run in 5): a worker published its job's outcome and said goodbye; the goodbye
    // (relay queue) was handled before the outcome (events queue), the running job went back to the queue, the
    // outcome was rejected as revoked and the finished job waited to run a second time.
    @Test
    void aWorkerThatSaidGoodbyeLosesItsNotStartedAssignmentsAtOnceAndItsRunningJobOnlyAfterTheGrace() {
        Duration grace = Duration.ofMillis(200);
        Dispatcher leader = dispatcher(TestSchedulerProperties.withGoodbyeGrace(grace));
        UUID running = UUID.randomUUID();
        UUID lookahead = UUID.randomUUID();
        fleet.accept(status("w1", WorkerState.READY, 1));
        fleet.accept(status("w1", WorkerState.GONE, 2));
        when(index.workersHolding()).thenReturn(Set.of("w1"));
        List<JobRow> notStarted = List.of(row(lookahead, 1));
        List<JobRow> all = List.of(row(running, 1));
        when(moves.revokeWorker(eq("w1"), eq(JobMoves.Scope.NOT_STARTED), anyString(), eq(LEASE)))
                .thenReturn(notStarted, List.of());
        when(moves.revokeWorker(eq("w1"), eq(JobMoves.Scope.ALL), anyString(), eq(LEASE)))
                .thenReturn(all);

        leader.round(LEASE);

        verify(moves, never()).revokeWorker(eq("w1"), eq(JobMoves.Scope.ALL), anyString(), any());
        assertThat(stopsSent()).containsExactly(lookahead + "#1@w1");

        sleep(grace.multipliedBy(2)); // its running job's outcome never came
        leader.round(LEASE);

        verify(moves).revokeWorker(eq("w1"), eq(JobMoves.Scope.ALL), eq("worker w1 shut down"), eq(LEASE));
        assertThat(stopsSent()).containsExactly(lookahead + "#1@w1", running + "#1@w1");
    }

    @Test
    void theLookaheadOfAPausedWorkerIsToldToStopWhenItIsTakenBack() {
        UUID lookahead = UUID.randomUUID();
        fleet.accept(status("w1", WorkerState.READY, 1));
        sleep(Duration.ofMillis(5));
        QueueIndex.Held held = new QueueIndex.Held(job(lookahead, 2), clock.get(), 0);
        fleet.accept(status("w1", WorkerState.PAUSED, 2));
        when(index.workersHolding()).thenReturn(Set.of("w1"));
        when(index.heldBy("w1")).thenReturn(List.of(held));
        JobRow revoked = row(lookahead, 2);
        when(moves.revokeAssignment(eq(lookahead), eq(2), eq("w1"), anyString(), eq(LEASE)))
                .thenReturn(Optional.of(revoked));

        dispatcher.round(LEASE);

        assertThat(stopsSent()).containsExactly(lookahead + "#2@w1");
    }

    /**
     * A round runs for every change of the queue and the fleet; the walk over every assignment of the fleet runs in
     * the first round, when a worker came, went or changed state, and otherwise at most once per fleet-check, so the
     * lookahead of a worker that stays paused waits for the next check.
     */
    @Test
    void theFleetsAssignmentsAreCheckedAtOnceWhenAWorkerChangesStateAndOtherwiseOncePerFleetCheck() {
        WorkerDirectory fleet =
                new WorkerDirectory(new FleetProperties(Duration.ofSeconds(10), Duration.ofMinutes(10)), clock::get);
        Dispatcher checked = dispatcher(fleet, TestSchedulerProperties.withFleetCheck(Duration.ofSeconds(1)));
        UUID first = UUID.randomUUID();
        UUID second = UUID.randomUUID();
        UUID third = UUID.randomUUID();
        fleet.accept(status("w1", WorkerState.READY, 1));
        sleep(Duration.ofMillis(5));
        when(index.workersHolding()).thenReturn(Set.of("w1"));
        when(index.heldBy("w1")).thenReturn(List.of(new QueueIndex.Held(job(first, 1), clock.get(), 0)));
        fleet.accept(status("w1", WorkerState.PAUSED, 2));
        for (UUID id : List.of(first, second, third)) {
            JobRow revoked = row(id, 1);
            when(moves.revokeAssignment(eq(id), eq(1), eq("w1"), anyString(), eq(LEASE)))
                    .thenReturn(Optional.of(revoked));
        }

        checked.round(LEASE); // the first round checks
        List<String> afterFirst = stopsSent();
        when(index.heldBy("w1")).thenReturn(List.of(new QueueIndex.Held(job(second, 1), clock.get(), 0)));
        sleep(Duration.ofMillis(999));
        fleet.accept(status("w1", WorkerState.PAUSED, 3)); // still paused: nothing changed
        checked.round(LEASE);
        List<String> withinTheFleetCheck = stopsSent();
        sleep(Duration.ofMillis(1));
        checked.round(LEASE);
        List<String> afterTheFleetCheck = stopsSent();
        when(index.heldBy("w1")).thenReturn(List.of(new QueueIndex.Held(job(third, 1), clock.get(), 0)));
        fleet.accept(status("w1", WorkerState.DRAINING, 4)); // shutting down: checked at once
        checked.round(LEASE);

        assertThat(afterFirst).containsExactly(first + "#1@w1");
        assertThat(withinTheFleetCheck).containsExactly(first + "#1@w1");
        assertThat(afterTheFleetCheck).containsExactly(first + "#1@w1", second + "#1@w1");
        assertThat(stopsSent()).containsExactly(first + "#1@w1", second + "#1@w1", third + "#1@w1");
    }

    // Bug regression (issue 18's browser test, 1 run in 3): right after the only gateway restarted it learned the
    // assignments from the database before the first status of their workers arrived, took every one for "assigned
    // before the worker restarted", and a job that had finished while the gateway was down ran a second time.
    @Test
    void anAssignmentLearnedBeforeTheFirstStatusOfItsWorkerAfterTheGatewayStartedIsNotTakenBack() {
        UUID finishedWhileAway = UUID.randomUUID();
        QueueIndex.Held held = new QueueIndex.Held(running(finishedWhileAway, 1), clock.get(), clock.get());
        sleep(Duration.ofMillis(5));
        fleet.accept(status("w1", WorkerState.READY, 1)); // it finished the job while no gateway ran: idle
        // the gateway could hear workers from just before it first heard this one
        when(broker.hearingSinceNanos(anyLong()))
                .thenReturn(fleet.get("w1").orElseThrow().instanceSeenNanos() - 1_000_000);
        when(index.workersHolding()).thenReturn(Set.of("w1"));
        when(index.heldBy("w1")).thenReturn(List.of(held));

        dispatcher.round(LEASE);

        verify(moves, never()).revokeAssignment(any(), anyInt(), any(), any(), any());
        assertThat(stopsSent()).isEmpty();
    }

    @Test
    void anAssignmentOfAWorkerThatRestartedSinceIsTakenBackAndToldToStop() {
        UUID lostInTheRestart = UUID.randomUUID();
        // the gateway has heard workers for longer than a presence timeout; then the assignment; then a new process
        when(broker.hearingSinceNanos(anyLong()))
                .thenReturn(clock.get() - PRESENCE.multipliedBy(3).toNanos());
        QueueIndex.Held held = new QueueIndex.Held(running(lostInTheRestart, 1), clock.get(), clock.get());
        sleep(Duration.ofMillis(5));
        fleet.accept(status("w1", WorkerState.READY, 1));
        when(index.workersHolding()).thenReturn(Set.of("w1"));
        when(index.heldBy("w1")).thenReturn(List.of(held));
        JobRow revoked = row(lostInTheRestart, 1);
        when(moves.revokeAssignment(eq(lostInTheRestart), eq(1), eq("w1"), anyString(), eq(LEASE)))
                .thenReturn(Optional.of(revoked));

        dispatcher.round(LEASE);

        verify(moves)
                .revokeAssignment(
                        eq(lostInTheRestart), eq(1), eq("w1"), eq("assigned before worker w1 restarted"), eq(LEASE));
        assertThat(stopsSent()).containsExactly(lostInTheRestart + "#1@w1");
    }

    @Test
    void aWorkerWhoseNewInstanceReplacesOneTheGatewayHeardHasItsOldAssignmentsTakenBackEvenRightAfterStartUp() {
        UUID heldByTheOldInstance = UUID.randomUUID();
        fleet.accept(status("w1", WorkerState.READY, 1));
        // the gateway could hear workers from just before it first heard this one: within the presence timeout
        when(broker.hearingSinceNanos(anyLong()))
                .thenReturn(fleet.get("w1").orElseThrow().instanceSeenNanos() - 1_000_000);
        QueueIndex.Held held = new QueueIndex.Held(running(heldByTheOldInstance, 1), clock.get(), clock.get());
        sleep(Duration.ofMillis(5));
        fleet.accept(new WorkerStatus(
                "w1", UUID.randomUUID(), "default", WorkerState.READY, 1, null, null, 50, Instant.now()));
        when(index.workersHolding()).thenReturn(Set.of("w1"));
        when(index.heldBy("w1")).thenReturn(List.of(held));
        JobRow revoked = row(heldByTheOldInstance, 1);
        when(moves.revokeAssignment(eq(heldByTheOldInstance), eq(1), eq("w1"), anyString(), eq(LEASE)))
                .thenReturn(Optional.of(revoked));

        dispatcher.round(LEASE);

        verify(moves)
                .revokeAssignment(
                        eq(heldByTheOldInstance),
                        eq(1),
                        eq("w1"),
                        eq("assigned before worker w1 restarted"),
                        eq(LEASE));
        assertThat(stopsSent()).containsExactly(heldByTheOldInstance + "#1@w1");
    }

    /** The stop commands published to the control exchange: job, attempt and worker ("jobId#attempt@worker"). */
    private List<String> stopsSent() {
        ArgumentCaptor<Message> sent = ArgumentCaptor.forClass(Message.class);
        verify(control, atLeast(0)).send(eq(Topology.CONTROL_EXCHANGE), eq(""), sent.capture());
        return sent.getAllValues().stream()
                .map(m -> json.read(m.getBody(), CancelJobCommand.class))
                .map(c -> c.jobId() + "#" + c.attempt() + "@" + c.workerId())
                .toList();
    }

    private static WorkerStatus status(String worker, WorkerState state, long seq) {
        return new WorkerStatus(worker, INSTANCE, "default", state, seq, null, null, 50, Instant.now());
    }

    private static JobRow row(UUID id, int attempt) {
        JobRow row = mock(JobRow.class);
        when(row.id()).thenReturn(id);
        when(row.attempt()).thenReturn(attempt);
        return row;
    }

    private static JobState job(UUID id, int attempt) {
        return new JobState(
                id, 1, JobStatus.QUEUED, "default", UUID.randomUUID(), 1, 0, 1, null, null, 1, 0, "w1", attempt, 0, 0);
    }

    private static JobState running(UUID id, int attempt) {
        return new JobState(
                id, 2, JobStatus.RUNNING, "default", UUID.randomUUID(), 1, 0, 1, null, null, 1, 0, "w1", attempt, 0, 1);
    }

    private void sleep(Duration d) {
        clock.addAndGet(d.toNanos());
    }
}
