package io.forgequeue.systemtest;

import static io.forgequeue.systemtest.ForgeQueueSystem.ALICE_KEY;
import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;

import com.rabbitmq.client.AMQP;
import io.forgequeue.forgesim.ForgeSimProcess;
import io.forgequeue.model.Topology;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import tools.jackson.databind.JsonNode;

/**
 * Issue 6, scenarios 8, 9 and 10, and issue 16's scenario 16: poison messages published to the workers' own queues,
 * duplicated and reordered status events (of current and of older attempts) injected straight into the events
 * exchange, and a worker frozen (SIGSTOP) mid-job past the presence timeout, then resumed (SIGCONT): its jobs run
 * elsewhere, its late events change nothing, and a revoked attempt it starts is stopped. The gateway's stuck sweep
 * runs every second with an 8 s threshold and the workers heartbeat every 2 s: a frozen worker's job must be handed to
 * another worker (presence timeout {@code ForgeQueueSystem.PRESENCE_TIMEOUT}) long before the sweep would fail it.
 */
class FaultMessagesIT extends FaultSuite {

    private static final Duration STUCK_THRESHOLD = ofSeconds(8);
    /** A lost worker's jobs must have started elsewhere this soon (issue 16's acceptance). */
    private static final Duration RERUN_WITHIN = ofSeconds(10);

    @Override
    ForgeQueueSystem.Builder system() {
        return ForgeQueueSystem.builder("faultmsg")
                .gateways(1)
                .workers(2)
                .forgeArgs(STEADY_FORGE)
                .gatewayEnv(Map.of(
                        "GATEWAY_QUOTAS_MAXQUEUED",
                        "100000",
                        "GATEWAY_STUCKSWEEP_THRESHOLD",
                        STUCK_THRESHOLD.toSeconds() + "s",
                        "GATEWAY_STUCKSWEEP_INTERVAL",
                        "1s"))
                .workerEnv(Map.of("WORKER_PROGRESS_HEARTBEATINTERVAL", "2s"));
    }

    @Test
    @Order(1)
    @Scenario(value = 8, title = "poison messages on the workers' queues")
    @Timeout(value = 15, unit = TimeUnit.MINUTES)
    void poisonMessagesAreDeadLetteredAndTheWorkersKeepWorking() {
        FaultRig r = rig();
        String deadQueue = Topology.deadLetterQueue(Topology.DEFAULT_POOL);
        List<AppProcess> workers = r.system.workers();
        Workload load = r.workload("s8poison", Workload.Settings.steady(ofMillis(300)));
        try (load;
                Watcher live = r.watcher("s8-client", 0, load)) {
            load.start();
            FaultRig.sleep(ofSeconds(2));
            long deadBefore = Math.max(0, r.observer.readyMessages(deadQueue));
            double unknownBefore = Prometheus.sum(
                    r.system.gateway(0).managementUrl(),
                    "gpu_gateway_events_rejected_total",
                    Map.of("reason", "unknown-job"));
            AMQP.BasicProperties json = new AMQP.BasicProperties.Builder()
                    .contentType("application/json")
                    .deliveryMode(2)
                    .build();
            // each worker's own queue gets every poison message, through the exchange the scheduler publishes to (the
            // default exchange, routing key = the queue's name)
            int sent = 0;
            List<String> kinds = new ArrayList<>();
            for (int w = 0; w < workers.size(); w++) {
                String target = workers.get(w).name();
                String other = workers.get((w + 1) % workers.size()).name();
                Map<String, byte[]> poison = poisonMessages(target, other);
                if (kinds.isEmpty()) {
                    kinds.addAll(poison.keySet());
                }
                for (byte[] body : poison.values()) {
                    r.observer.inject(Topology.HANDOUT_EXCHANGE, Topology.workerQueue(target), json, body);
                    sent++;
                    AppProcess.sleep(100);
                }
            }
            int poisonCount = sent;
            Instant injected = Instant.now();
            boolean allDead = BrokerObserver.waitFor(
                    ofSeconds(30), () -> r.observer.readyMessages(deadQueue) >= deadBefore + poisonCount);
            long dead = r.observer.readyMessages(deadQueue) - deadBefore;
            Set<String> stillWorking = new HashSet<>();
            Set<String> succeededAfter = new HashSet<>();
            BrokerObserver.waitFor(ofSeconds(30), () -> {
                r.observer.events().stream()
                        .filter(e ->
                                e.type().equals("SUCCEEDED") && e.receivedAt().isAfter(injected))
                        .forEach(e -> {
                            stillWorking.add(e.workerId());
                            succeededAfter.add(e.jobId());
                        });
                return stillWorking.size() == workers.size();
            });
            load.stop();
            // the observer sees the scheduler's hand-outs (the default exchange's firehose): every job that ran
            Set<String> notSeenHandedOut = new HashSet<>(succeededAfter);
            notSeenHandedOut.removeAll(r.observer.jobMessageIds());

            // a worker busy rejecting poison reports itself idle (it holds no assignment), so the scheduler may take
            // the lookahead waiting behind the poison for a lost message and hand it out again: it tells the worker to
            // stop that attempt at once, so the old message is skipped when it arrives (no job completes twice)
            Verdict v = r.verdict("scenario 8", load, List.of(live));
            double unknown = Prometheus.sum(
                            r.system.gateway(0).managementUrl(),
                            "gpu_gateway_events_rejected_total",
                            Map.of("reason", "unknown-job"))
                    - unknownBefore;
            long stored = r.system.sqlLong("select count(*) from job where not starts_with(spec->>'prompt', 's')");
            v.expectFailures(Map.of())
                    .require(
                            allDead && dead == poisonCount,
                            "dead-lettered " + dead + " of " + poisonCount + " poison messages")
                    .require(
                            stillWorking.size() == workers.size(),
                            "workers that completed a job after the " + "poison: " + stillWorking)
                    .require(workers.stream().allMatch(AppProcess::isAlive), "a worker died")
                    .require(stored == 0, stored + " job rows appeared from poison messages")
                    .require(
                            !succeededAfter.isEmpty() && notSeenHandedOut.isEmpty(),
                            "jobs that succeeded without a hand-out the observer saw: " + notSeenHandedOut)
                    .note("poison messages " + poisonCount + " (" + kinds.size() + " kinds to each of " + workers.size()
                            + " workers' queues: " + String.join(", ", kinds) + "); dead-lettered " + dead
                            + "; FAILED events for an unknown job refused by the gateway " + (long) unknown);
            v.reportAndAssert();
        }
    }

    @Test
    @Order(2)
    @Scenario(value = 9, title = "duplicate and reordered status events")
    @Timeout(value = 15, unit = TimeUnit.MINUTES)
    void duplicatedAndReorderedEventsLeaveEveryJobAsInOrderDeliveryWould() {
        FaultRig r = rig();
        String gateway = r.system.gateway(0).managementUrl(); // its actuator: the merge counters
        Workload load =
                r.workload("s9dup", Workload.Settings.steady(ofMillis(300)).withCancelEvery(8));
        Set<String> before = new HashSet<>();
        r.observer.events().forEach(e -> before.add(e.jobId()));
        ScheduledExecutorService injector = Executors.newScheduledThreadPool(2);
        Random random = new Random(9);
        AtomicInteger liveCopies = new AtomicInteger();
        try (load;
                Watcher live = r.watcher("s9-client", 0, load)) {
            // phase 1, live: every event of this scenario's jobs is sent again once or twice, 0-1.5 s later
            r.observer.onNewEvent(e -> {
                if (before.contains(e.jobId()) || injector.isShutdown()) {
                    return;
                }
                int copies;
                synchronized (random) {
                    copies = 1 + random.nextInt(2);
                }
                for (int c = 0; c < copies; c++) {
                    long delay;
                    synchronized (random) {
                        delay = random.nextInt(1500);
                    }
                    try {
                        injector.schedule(
                                () -> {
                                    r.observer.replay(e);
                                    liveCopies.incrementAndGet();
                                },
                                delay,
                                TimeUnit.MILLISECONDS);
                    } catch (RuntimeException ignored) {
                        // shutting down
                    }
                }
            });
            load.start();
            // a few jobs are interrupted on Forge (as by another client of it): their workers give them back and they
            // run again in a new attempt, so the replays below include events of older attempts
            FaultRig.sleep(ofSeconds(1));
            for (ForgeSimProcess forge : r.system.forges()) {
                forge.admin().interruptNext(2, 2);
            }
            FaultRig.sleep(FaultProfile.pick(ofSeconds(10), ofSeconds(60)));
            load.stop();
            load.awaitSettled(FaultProfile.settle());
            FaultRig.sleep(ofSeconds(2));
            injector.shutdown();
            injector.awaitTermination(30, TimeUnit.SECONDS);
            awaitMergesQuiet(r, gateway);

            // phase 2, after the fact: every recorded event of every job twice more, shuffled, and each job's events
            // once more in reverse order
            Map<String, JsonNode> snapshot = new LinkedHashMap<>();
            Http alice = r.system.http(0, ALICE_KEY);
            for (String id : load.acceptedIds()) {
                snapshot.put(id, alice.get("/api/v1/jobs/" + id).json());
            }
            List<BrokerObserver.Event> events = r.observer.eventsOf(new HashSet<>(load.acceptedIds()));
            List<BrokerObserver.Event> replay = new ArrayList<>(events);
            replay.addAll(events);
            Collections.shuffle(replay, new Random(99));
            List<BrokerObserver.Event> reversed = new ArrayList<>(events);
            Collections.reverse(reversed);
            replay.addAll(reversed);
            long olderAttempts = events.stream()
                    .filter(e -> e.attempt()
                            < snapshot.get(e.jobId()).path("attempt").asInt())
                    .count();
            long rerun = snapshot.values().stream()
                    .filter(j -> j.path("attempt").asInt() > 1)
                    .count();
            double handledBefore = handled(gateway);
            Map<String, Double> rejectedBefore = r.rejectedByReason();
            for (BrokerObserver.Event e : replay) {
                r.observer.replay(e);
            }
            boolean drained =
                    BrokerObserver.waitFor(ofSeconds(60), () -> handled(gateway) - handledBefore >= replay.size());
            awaitMergesQuiet(r, gateway);
            Map<String, Long> refused = r.rejectedSince(rejectedBefore);

            Verdict v = r.verdict("scenario 9", load, List.of(live));
            int changed = 0;
            for (Map.Entry<String, JsonNode> e : snapshot.entrySet()) {
                JsonNode now = alice.get("/api/v1/jobs/" + e.getKey()).json();
                if (!now.equals(e.getValue())) {
                    changed++;
                    v.violation("job " + e.getKey() + " changed after the replay: " + e.getValue() + " -> " + now);
                }
            }
            v.expectFailures(Map.of())
                    .require(
                            drained, "the gateway did not handle all " + replay.size() + " replayed events within 60 s")
                    .require(
                            rerun > 0 && olderAttempts > 0,
                            "no job ran in a second attempt (" + rerun + "): no event "
                                    + "of an older attempt was replayed")
                    .require(
                            refused.getOrDefault("stale-attempt", 0L) >= 3 * olderAttempts,
                            "events of older attempts " + "replayed " + 3 * olderAttempts
                                    + " times, refused as stale-attempt " + refused)
                    .note("live duplicates " + liveCopies.get() + "; replayed afterwards " + replay.size()
                            + " (2 shuffled copies + 1 reversed of " + events.size() + " events, " + olderAttempts
                            + " of them of an older attempt of " + rerun + " jobs run twice); refused by reason "
                            + refused + "; jobs changed by the replay " + changed);
            v.reportAndAssert();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } finally {
            injector.shutdownNow();
        }
    }

    @Test
    @Order(3)
    @Scenario(value = 10, title = "worker frozen (SIGSTOP) then resumed")
    @Timeout(value = 15, unit = TimeUnit.MINUTES)
    void aFrozenWorkersJobsRunElsewhereAndItsLateEventsChangeNothing() {
        FaultRig r = rig();
        AppProcess victim = r.system.workers().get(0);
        ForgeSimProcess forge = r.system.forgeOf(victim);
        Http alice = r.system.http(0, ALICE_KEY);
        // jobs of 1.6-2.4 s, so that the freeze lands in the middle of one
        Workload load =
                r.workload("s10frozen", Workload.Settings.steady(ofMillis(1200)).withSteps(40, 60));
        try (load;
                Watcher live = r.watcher("s10-client", 0, load)) {
            load.start();
            List<FaultRig.Assignment> held = List.of();
            Instant frozenAt = null;
            for (int tries = 0;
                    tries < 5 && held.stream().noneMatch(a -> a.status().equals("RUNNING"));
                    tries++) {
                BrokerObserver.waitFor(
                        ofSeconds(30), () -> forge.admin().state().busy());
                AppProcess.sleep(400);
                victim.freeze();
                frozenAt = Instant.now();
                held = r.assignmentsOf(victim);
                if (held.stream().noneMatch(a -> a.status().equals("RUNNING"))) {
                    victim.resume(); // froze between two jobs: try again
                    AppProcess.sleep(1000);
                }
            }
            if (held.stream().noneMatch(a -> a.status().equals("RUNNING"))) {
                throw new AssertionError("could not freeze " + victim.name() + " in the middle of a job");
            }
            String stuck = held.stream()
                    .filter(a -> a.status().equals("RUNNING"))
                    .findFirst()
                    .orElseThrow()
                    .jobId();
            List<FaultRig.Assignment> frozenWith = held;
            // every job it held (the one it runs, the one assigned behind it) starts on the other worker
            Map<String, BrokerObserver.Event> elsewhere = new LinkedHashMap<>();
            boolean movedOn = BrokerObserver.waitFor(ofSeconds(60), () -> {
                for (FaultRig.Assignment a : frozenWith) {
                    BrokerObserver.Event e = r.observer.startedElsewhere(a.jobId(), a.attempt(), victim.name());
                    if (e != null) {
                        elsewhere.putIfAbsent(a.jobId(), e);
                    }
                }
                return elsewhere.size() == frozenWith.size();
            });
            boolean finishedElsewhere = BrokerObserver.waitFor(
                    ofSeconds(60),
                    () -> Workload.isTerminal(alice.get("/api/v1/jobs/" + stuck)
                            .json()
                            .path("status")
                            .asString()));
            // keep it frozen a while longer (long profile: 150 s, past the broker's heartbeat timeout of the worker's
            // connection (60 s negotiated), so the broker drops it and its queue with the message behind its job)
            Instant until = FaultProfile.LONG
                    ? frozenAt.plusSeconds(150)
                    : Instant.now().plusSeconds(1);
            while (Instant.now().isBefore(until)) {
                AppProcess.sleep(200);
            }
            Map<String, JsonNode> beforeResume = new LinkedHashMap<>();
            for (FaultRig.Assignment a : frozenWith) {
                beforeResume.put(
                        a.jobId(), alice.get("/api/v1/jobs/" + a.jobId()).json());
            }
            Map<String, Double> rejectedBefore = r.rejectedByReason();
            // taken before the signal: the worker may send its late events before `kill -CONT` has even returned
            Instant resumedAt = Instant.now();
            victim.resume();
            BrokerObserver.Event carriesOn = null;
            try {
                carriesOn = r.observer.awaitEvent(
                        e -> e.type().equals("SUCCEEDED")
                                && e.workerId().equals(victim.name())
                                && beforeResume.keySet().stream().noneMatch(e.jobId()::equals)
                                && e.receivedAt().isAfter(resumedAt),
                        ofSeconds(40));
            } catch (AssertionError e) {
                // reported below
            }
            FaultRig.sleep(ofSeconds(3));
            List<BrokerObserver.Event> late = r.observer.events().stream()
                    .filter(e -> beforeResume.containsKey(e.jobId())
                            && e.workerId().equals(victim.name())
                            && e.receivedAt().isAfter(resumedAt))
                    .toList();
            Map<String, Long> refused = r.rejectedSince(rejectedBefore);
            // a revoked attempt it started after waking up was told to stop (that attempt, on that worker)
            List<String> unstopped = new ArrayList<>();
            for (BrokerObserver.Event e : late) {
                if (e.type().equals("RUNNING")
                        && !e.jobId().equals(stuck)
                        && r.observer.commands().stream()
                                .noneMatch(c -> c.jobId().equals(e.jobId())
                                        && c.isStop()
                                        && c.attempt() == e.attempt()
                                        && c.workerId().equals(victim.name()))) {
                    unstopped.add(e.jobId() + "#" + e.attempt());
                }
            }
            load.stop();

            Verdict v = r.verdict("scenario 10", load, List.of(live))
                    .allowCompletedTwice("the frozen worker's Forge finished its job during the freeze");
            Instant frozen = frozenAt;
            String moved = elsewhere.values().stream()
                    .map(e -> String.format(
                            "%.1f", Duration.between(frozen, e.receivedAt()).toMillis() / 1000.0))
                    .toList()
                    .toString();
            v.expectFailures(Map.of())
                    .require(
                            movedOn,
                            "the frozen worker's jobs " + frozenWith + " did not all start on the other worker "
                                    + "(started: " + elsewhere.keySet() + ")")
                    .require(
                            finishedElsewhere, "the frozen worker's running job " + stuck + " did not finish elsewhere")
                    .require(!late.isEmpty(), "the resumed worker sent no late event for the jobs it held")
                    .require(
                            unstopped.isEmpty(),
                            "revoked attempts the resumed worker started without being told to " + "stop them: "
                                    + unstopped)
                    .require(carriesOn != null, "the resumed worker completed no other job within 40 s");
            for (FaultRig.Assignment a : frozenWith) {
                JsonNode after = alice.get("/api/v1/jobs/" + a.jobId()).json();
                v.require(
                        after.equals(beforeResume.get(a.jobId())),
                        "the resumed worker's late events changed job " + a.jobId() + ": " + beforeResume.get(a.jobId())
                                + " -> " + after);
            }
            v.note("frozen holding "
                    + frozenWith.stream()
                            .map(a -> a.status().equals("RUNNING") ? "1 running" : "1 assigned")
                            .toList() + "; started elsewhere after " + moved + " s (presence timeout "
                    + ForgeQueueSystem.PRESENCE_TIMEOUT.toSeconds() + " s, stuck sweep " + STUCK_THRESHOLD.toSeconds()
                    + " s: not needed); frozen "
                    + Duration.between(frozenAt, resumedAt).toSeconds()
                    + " s; late events after resume "
                    + late.stream().map(e -> e.type() + "#" + e.attempt()).toList()
                    + " refused " + refused);
            v.reportAndAssert();
        }
    }

    @Test
    @Order(4)
    @Scenario(value = 16, title = "worker frozen past presence (run + assigned)")
    @Timeout(value = 15, unit = TimeUnit.MINUTES)
    void aWorkerFrozenWithARunningAndAnAssignedJobHasBothRunElsewhereAndIsStoppedWhenItStartsARevokedOne() {
        FaultRig r = rig();
        AppProcess victim = r.system.workers().get(0);
        ForgeSimProcess forge = r.system.forgeOf(victim);
        Http alice = r.system.http(0, ALICE_KEY);
        Workload load = r.workload("s16frozen", Workload.Settings.steady(ofMillis(300)));
        try (load;
                Watcher live = r.watcher("s16-client", 0, load)) {
            // the victim's next job stays at step 1 on its Forge, so it is still running while the scheduler hands the
            // victim its lookahead; the call after it (the revoked lookahead, if the victim starts it after waking up)
            // is held too, so it is still running when the stop arrives
            forge.admin().holdNext(2, 1);
            load.start();
            FaultRig.Assignment[] pair = r.awaitRunningAndAssigned(victim, ofSeconds(60));
            FaultRig.Assignment running = pair[0];
            FaultRig.Assignment assigned = pair[1];
            long interruptedBefore = forge.admin().stats().calls().interrupted();
            double workerSkippedBefore =
                    Prometheus.sum(victim.managementUrl(), "gpu_worker_jobs_total", Map.of("outcome", "skipped"));
            victim.freeze();
            Instant frozenAt = Instant.now();

            // both run elsewhere once the victim is taken for lost, and finish there
            BrokerObserver.Event[] moved = new BrokerObserver.Event[2];
            boolean bothMoved = BrokerObserver.waitFor(ofSeconds(60), () -> {
                moved[0] = r.observer.startedElsewhere(running.jobId(), running.attempt(), victim.name());
                moved[1] = r.observer.startedElsewhere(assigned.jobId(), assigned.attempt(), victim.name());
                return moved[0] != null && moved[1] != null;
            });
            boolean bothDone = BrokerObserver.waitFor(
                    ofSeconds(60),
                    () -> Workload.isTerminal(status(alice, running.jobId()))
                            && Workload.isTerminal(status(alice, assigned.jobId())));
            // the scheduler told the frozen worker to stop both attempts when it took them back
            boolean stopsWaiting = BrokerObserver.waitFor(
                    ofSeconds(10), () -> stopOf(r, running, victim) != null && stopOf(r, assigned, victim) != null);
            JsonNode runningBefore =
                    alice.get("/api/v1/jobs/" + running.jobId()).json();
            JsonNode assignedBefore =
                    alice.get("/api/v1/jobs/" + assigned.jobId()).json();
            Map<String, Double> rejectedBefore = r.rejectedByReason();
            Instant resumedAt = Instant.now();
            victim.resume();

            // it still runs its attempt (held on its Forge): told to stop it, it interrupts it
            BrokerObserver.Command[] stopRunning = new BrokerObserver.Command[1];
            boolean runningStopped =
                    BrokerObserver.waitFor(ofSeconds(30), () -> (stopRunning[0] = stopOf(r, running, victim)) != null);
            boolean runningInterrupted = BrokerObserver.waitFor(ofSeconds(10), () -> interruptRequested(forge));
            forge.admin().release(); // the held call ends, interrupted by the worker
            boolean lateOutcome = BrokerObserver.waitFor(
                    ofSeconds(30),
                    () -> r.observer.eventsOf(running.jobId()).stream()
                            .anyMatch(e -> e.workerId().equals(victim.name())
                                    && e.attempt() == running.attempt()
                                    && e.isOutcome()
                                    && e.receivedAt().isAfter(resumedAt)));
            // then it takes the revoked lookahead from its queue: skipped, or started and told to stop
            BrokerObserver.Command[] stopAssigned = new BrokerObserver.Command[1];
            boolean stoppedOrSkipped = BrokerObserver.waitFor(
                    ofSeconds(30),
                    () -> (stopAssigned[0] = stopOf(r, assigned, victim)) != null
                            || Prometheus.sum(
                                            victim.managementUrl(),
                                            "gpu_worker_jobs_total",
                                            Map.of("outcome", "skipped"))
                                    > workerSkippedBefore);
            boolean startedRevoked = r.observer.eventsOf(assigned.jobId()).stream()
                    .anyMatch(e -> e.type().equals("RUNNING")
                            && e.workerId().equals(victim.name())
                            && e.attempt() == assigned.attempt());
            boolean assignedInterrupted =
                    !startedRevoked || BrokerObserver.waitFor(ofSeconds(10), () -> interruptRequested(forge));
            forge.admin().clearFaults(); // the held call of the revoked lookahead ends, interrupted by the worker
            boolean lateOutcomeOfRevoked = !startedRevoked
                    || BrokerObserver.waitFor(
                            ofSeconds(30),
                            () -> r.observer.eventsOf(assigned.jobId()).stream()
                                    .anyMatch(e -> e.workerId().equals(victim.name())
                                            && e.attempt() == assigned.attempt()
                                            && e.isOutcome()));
            long interrupted = forge.admin().stats().calls().interrupted() - interruptedBefore;
            BrokerObserver.Event carriesOn = null;
            try {
                carriesOn = r.observer.awaitEvent(
                        e -> e.type().equals("SUCCEEDED")
                                && e.workerId().equals(victim.name())
                                && !e.jobId().equals(running.jobId())
                                && !e.jobId().equals(assigned.jobId())
                                && e.receivedAt().isAfter(resumedAt),
                        ofSeconds(40));
            } catch (AssertionError e) {
                // reported below
            }
            awaitMergesQuiet(r, r.system.gateway(0).managementUrl());
            Map<String, Long> refused = r.rejectedSince(rejectedBefore);
            long lateRefused = refused.getOrDefault("revoked", 0L)
                    + refused.getOrDefault("stale-attempt", 0L)
                    + refused.getOrDefault("terminal", 0L);
            JsonNode runningAfter = alice.get("/api/v1/jobs/" + running.jobId()).json();
            JsonNode assignedAfter =
                    alice.get("/api/v1/jobs/" + assigned.jobId()).json();
            load.stop();

            Verdict v = r.verdict("scenario 16", load, List.of(live));
            double runningMoved = moved[0] == null
                    ? -1
                    : Duration.between(frozenAt, moved[0].receivedAt()).toMillis() / 1000.0;
            double assignedMoved = moved[1] == null
                    ? -1
                    : Duration.between(frozenAt, moved[1].receivedAt()).toMillis() / 1000.0;
            v.expectFailures(Map.of())
                    .require(
                            bothMoved,
                            "the frozen worker's running job " + running.jobId() + " and assigned job "
                                    + assigned.jobId() + " did not both start elsewhere within 60 s")
                    .require(bothDone, "the frozen worker's jobs did not both finish elsewhere")
                    .require(
                            runningMoved >= 0
                                    && runningMoved <= RERUN_WITHIN.toSeconds()
                                    && assignedMoved >= 0
                                    && assignedMoved <= RERUN_WITHIN.toSeconds(),
                            String.format(
                                    "started elsewhere %.1f s and " + "%.1f s after the freeze, not within %d s",
                                    runningMoved, assignedMoved, RERUN_WITHIN.toSeconds()))
                    .require(
                            stopsWaiting,
                            "no stop for the taken-back attempts " + running.jobId() + "#"
                                    + running.attempt() + " and " + assigned.jobId() + "#" + assigned.attempt() + " (a "
                                    + "CancelJobCommand with that attempt and worker on forge.control) was sent while the worker "
                                    + "was frozen")
                    .require(
                            runningStopped,
                            "the resumed worker ran the revoked attempt " + running.jobId()
                                    + "#" + running.attempt()
                                    + " and was not told to stop it (no CancelJobCommand with that attempt "
                                    + "and worker on forge.control)")
                    .require(
                            runningInterrupted && assignedInterrupted,
                            "the resumed worker did not interrupt its Forge " + "call after it was told to stop")
                    .require(lateOutcome, "the resumed worker never ended the attempt it had run")
                    .require(lateRefused > 0, "no late event of the resumed worker was refused: " + refused)
                    .require(
                            stoppedOrSkipped,
                            "the resumed worker started the revoked attempt " + assigned.jobId() + "#"
                                    + assigned.attempt()
                                    + " and was not told to stop it (no CancelJobCommand with that attempt "
                                    + "and worker on forge.control), nor skipped it")
                    .require(
                            interrupted == (startedRevoked ? 2 : 1),
                            "Forge calls of revoked attempts interrupted: " + interrupted + ", expected "
                                    + (startedRevoked ? 2 : 1))
                    .require(lateOutcomeOfRevoked, "the resumed worker never ended the revoked attempt it started")
                    .require(carriesOn != null, "the resumed worker completed no other job within 40 s")
                    .require(
                            runningAfter.equals(runningBefore),
                            "the resumed worker's late events changed job " + running.jobId() + ": " + runningBefore
                                    + " -> " + runningAfter)
                    .require(
                            assignedAfter.equals(assignedBefore),
                            "the resumed worker's late events changed job " + assigned.jobId() + ": " + assignedBefore
                                    + " -> " + assignedAfter);
            v.note(String.format(
                    "frozen with 1 running + 1 assigned; they started elsewhere %.1f s and %.1f s after the "
                            + "freeze (presence timeout %d s); stops for both sent when they were taken back; after "
                            + "SIGCONT: its running attempt stopped (Forge call interrupted), the revoked lookahead %s; "
                            + "late events refused %s",
                    runningMoved,
                    assignedMoved,
                    ForgeQueueSystem.PRESENCE_TIMEOUT.toSeconds(),
                    startedRevoked ? "started and stopped" : "skipped when it arrived",
                    refused));
            v.reportAndAssert();
        }
    }

    /** Whether someone asked the Forge to interrupt the job it runs now (its progress says so). */
    private static boolean interruptRequested(ForgeSimProcess forge) {
        Http.Answer a = new Http(forge.baseUrl().toString().replaceAll("/$", ""), null)
                .attemptGet("/sdapi/v1/progress?skip_current_image=true");
        return a.status() == 200 && a.json().path("state").path("interrupted").asBoolean(false);
    }

    /** The stop command for exactly this attempt on exactly this worker, if one was sent. */
    private static BrokerObserver.Command stopOf(FaultRig r, FaultRig.Assignment a, AppProcess worker) {
        return r.observer.commands().stream()
                .filter(c -> c.isStop()
                        && c.jobId().equals(a.jobId())
                        && c.attempt() == a.attempt()
                        && c.workerId().equals(worker.name()))
                .findFirst()
                .orElse(null);
    }

    private static String status(Http http, String jobId) {
        return http.get("/api/v1/jobs/" + jobId).json().path("status").asString();
    }

    /** Events merged or refused by the gateway so far. */
    private static double handled(String gateway) {
        return Prometheus.sum(gateway, "gpu_gateway_events_merged_total")
                + Prometheus.sum(gateway, "gpu_gateway_events_rejected_total");
    }

    /** Waits until the persist queue is empty and the gateway's merge counters stand still for a second. */
    private static void awaitMergesQuiet(FaultRig r, String gateway) {
        long deadline = System.nanoTime() + ofSeconds(30).toNanos();
        double last = -1;
        while (System.nanoTime() < deadline) {
            double now = handled(gateway);
            if (now == last && r.observer.readyMessages(Topology.PERSIST_QUEUE) == 0) {
                return;
            }
            last = now;
            AppProcess.sleep(1000);
        }
    }

    /**
     * Job messages no worker can run, for the queue of worker {@code target}: each must be dead-lettered without
     * harming the worker. {@code other} is another worker's id (a message assigned to it is not {@code target}'s).
     */
    private static Map<String, byte[]> poisonMessages(String target, String other) {
        Map<String, byte[]> m = new LinkedHashMap<>();
        byte[] random = new byte[256];
        new Random(8).nextBytes(random);
        String spec = "\"spec\":{\"prompt\":\"x\",\"width\":64,\"height\":64,\"steps\":5,\"cfgScale\":7,\"seed\":1,"
                + "\"batchSize\":1}";
        String tail = ",\"ticket\":1,\"pool\":\"default\",\"submittedAt\":\"2026-01-01T00:00:00Z\"";
        m.put("random bytes", random);
        m.put("empty body", new byte[0]);
        m.put("not JSON", utf8("this is not a job"));
        m.put("JSON array", utf8("[]"));
        m.put("empty object", utf8("{}"));
        m.put(
                "id not a UUID",
                utf8("{\"jobId\":\"not-a-uuid\",\"attempt\":1,\"workerId\":\"" + target + "\"," + spec + tail + "}"));
        m.put(
                "impossible spec",
                utf8("{\"jobId\":\"" + UUID.randomUUID() + "\",\"attempt\":1,\"workerId\":\"" + target
                        + "\",\"spec\":{\"prompt\":\"x\",\"width\":7,\"height\":64,\"steps\":0,\"cfgScale\":7,\"seed\":1,"
                        + "\"batchSize\":1}" + tail + "}"));
        m.put(
                "no spec",
                utf8("{\"jobId\":\"" + UUID.randomUUID() + "\",\"attempt\":1,\"workerId\":\"" + target + "\"" + tail
                        + "}"));
        m.put(
                "attempt 0",
                utf8("{\"jobId\":\"" + UUID.randomUUID() + "\",\"attempt\":0,\"workerId\":\"" + target + "\"," + spec
                        + tail + "}"));
        m.put("no worker", utf8("{\"jobId\":\"" + UUID.randomUUID() + "\",\"attempt\":1," + spec + tail + "}"));
        m.put(
                "assigned to another worker",
                utf8("{\"jobId\":\"" + UUID.randomUUID() + "\",\"attempt\":1,\"workerId\":\"" + other + "\"," + spec
                        + tail + "}"));
        m.put(
                "wrong types",
                utf8("{\"jobId\":5,\"attempt\":\"one\",\"workerId\":[],\"ticket\":\"x\",\"pool\":[],"
                        + "\"spec\":\"draw\",\"submittedAt\":false}"));
        m.put(
                "truncated",
                utf8("{\"jobId\":\"" + UUID.randomUUID() + "\",\"attempt\":1,\"workerId\":\"" + target
                        + "\",\"pool\":\"def"));
        m.put("nested 100000 deep", utf8("[".repeat(100_000)));
        m.put("1 MiB string", utf8("{\"jobId\":\"" + "x".repeat(1 << 20) + "\"}"));
        return m;
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
