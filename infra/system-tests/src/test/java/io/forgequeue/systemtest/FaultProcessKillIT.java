package io.forgequeue.systemtest;

import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;

import io.forgequeue.forgesim.ForgeSimProcess;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import tools.jackson.databind.JsonNode;

/**
 * Issue 6, scenarios 1 and 3, and issue 16's scenarios 14 and 15: SIGKILL of workers (at random moments mid-job, right
 * after Forge returned, and holding a running and an assigned job) and of gateways (two running, clients reconnect to
 * the other; the one that is the scheduler during a burst), under a steady stream of jobs. Two gateways, two workers,
 * each worker with a forge-sim of its own so a kill can be timed on that worker's Forge.
 */
class FaultProcessKillIT extends FaultSuite {

    @Override
    ForgeQueueSystem.Builder system() {
        return ForgeQueueSystem.builder("faultkill")
                .gateways(2)
                .workers(2)
                .forgeArgs(STEADY_FORGE)
                .gatewayEnv(Map.of(
                        "GATEWAY_QUOTAS_MAXQUEUED",
                        "100000",
                        // a gateway killed between commit and publish leaves its outbox entry leased: keep it short
                        "GATEWAY_JOBS_OUTBOXLEASE",
                        "3s",
                        "GATEWAY_OUTBOX_LEASE",
                        "3s"));
    }

    /** Another gateway must hand out the first job this soon after the leader died (issue 16's acceptance). */
    private static final Duration FAILOVER_WITHIN = ofSeconds(5);
    /** A killed worker's jobs must have started elsewhere this soon (issue 16's acceptance). */
    private static final Duration RERUN_WITHIN = ofSeconds(10);

    /** When a worker was killed, and how the moment was chosen. */
    private record Kill(String worker, Instant at, String moment) {}

    @Test
    @Order(1)
    @Scenario(value = 1, title = "worker SIGKILL mid-job / after Forge")
    @Timeout(value = 15, unit = TimeUnit.MINUTES)
    void jobsOfWorkersKilledAtAnyMomentAllFinishOnceAndNoneFails() {
        FaultRig r = rig();
        int kills = FaultProfile.pick(4, 12);
        Random random = new Random(6);
        Workload load = r.workload(
                "s1kill",
                Workload.Settings.steady(ofMillis(350))
                        .withSteps(8, 16)
                        .withSize(512)
                        .withCancelEvery(9));
        List<Kill> done = new ArrayList<>();
        try (load;
                Watcher live = r.watcher("s1-client", 0, load)) {
            load.start();
            FaultRig.sleep(ofSeconds(3));
            for (int k = 0; k < kills; k++) {
                AppProcess victim = r.system.workers().get(k % 2);
                ForgeSimProcess forge = r.system.forgeOf(victim);
                String moment = switch (k % 3) {
                    case 0 -> "mid-job";
                    case 1 -> "Forge returned";
                    default -> "outcome published";
                };
                Instant at = switch (k % 3) {
                    case 0 -> killMidJob(victim, forge, random);
                    case 1 -> killRightAfterForgeReturns(victim, forge);
                    default -> killOnItsOutcomeEvent(victim, r.observer);
                };
                done.add(new Kill(victim.name(), at, moment));
                victim.restart();
                FaultRig.sleep(ofMillis(500 + random.nextInt(1000)));
            }
            load.stop();

            Verdict v = r.verdict("scenario 1", load, List.of(live));
            int[] kinds = classify(r.observer, done);
            v.expectFailures(Map.of())
                    .require(v.redelivered > 0, "no job was redelivered: no kill hit a running job")
                    .note("kills " + kills + " ("
                            + done.stream()
                                    .map(Kill::moment)
                                    .distinct()
                                    .map(m -> done.stream()
                                                    .filter(x -> x.moment().equals(m))
                                                    .count() + " " + m)
                                    .toList()
                            + "): " + kinds[0] + " before the outcome event was confirmed, " + kinds[1]
                            + " after it was confirmed but before the ack, " + kinds[2] + " after the ack");
            v.reportAndAssert();
        }
    }

    @Test
    @Order(2)
    @Scenario(value = 3, title = "gateway SIGKILL (2 running, clients move)")
    @Timeout(value = 15, unit = TimeUnit.MINUTES)
    void killingAGatewayLosesNoJobAndItsClientsCarryOnAtTheOther() {
        FaultRig r = rig();
        int kills = FaultProfile.pick(2, 6);
        Workload load =
                r.workload("s3gw", Workload.Settings.steady(ofMillis(300)).withCancelEvery(10));
        try (load;
                Watcher first = r.watcher("s3-client-gw1", 0, load);
                Watcher second = r.watcher("s3-client-gw2", 1, load)) {
            load.start();
            FaultRig.sleep(ofSeconds(3));
            for (int k = 0; k < kills; k++) {
                AppProcess victim = r.system.gateway(k % 2);
                victim.kill();
                FaultRig.sleep(FaultProfile.pick(ofSeconds(3), ofSeconds(8)));
                victim.restart();
                FaultRig.sleep(ofSeconds(2));
            }
            load.stop();

            Verdict v = r.verdict("scenario 3", load, List.of(first, second));
            int noAnswer = v.answers.getOrDefault(0, 0);
            v.expectFailures(Map.of())
                    .require(
                            first.connects() > 1 && second.connects() > 1,
                            "each live client should have reconnected after its gateway died (connects: "
                                    + first.connects() + ", " + second.connects() + ")")
                    .note("gateway kills " + kills + "; client reconnects " + (first.connects() - 1) + " + "
                            + (second.connects() - 1) + "; submissions without answer retried with the same "
                            + "Idempotency-Key " + noAnswer);
            v.reportAndAssert();
        }
    }

    @Test
    @Order(3)
    @Scenario(value = 14, title = "leader gateway SIGKILL during a burst")
    @Timeout(value = 15, unit = TimeUnit.MINUTES)
    void whenTheLeaderDiesAnotherGatewayHandsOutWithinFiveSecondsAndEveryJobRunsOnce() {
        FaultRig r = rig();
        Workload load = r.workload("s14lead", Workload.Settings.steady(ofMillis(400)));
        try (load;
                Watcher first = r.watcher("s14-client-gw1", 0, load);
                Watcher second = r.watcher("s14-client-gw2", 1, load)) {
            load.start();
            FaultRig.sleep(ofSeconds(2));
            AppProcess leader = awaitLeader(r);
            ForgeQueueSystem.Lease before = r.system.lease();
            // a burst: 30 jobs at once, besides the stream; the leader dies while it hands them out
            Instant burstFrom = Instant.now();
            Thread burst = new Thread(() -> load.burst(30), "s14-burst");
            burst.start();
            BrokerObserver.waitFor(
                    ofSeconds(60),
                    () -> r.system.sqlLong(
                                    "select count(*) from job_state_history "
                                            + "where reason = 'assigned' and occurred_at > ?",
                                    java.sql.Timestamp.from(burstFrom))
                            >= 6);
            Instant killedAt = Instant.now();
            leader.kill();
            ForgeQueueSystem.Lease[] taken = new ForgeQueueSystem.Lease[1];
            boolean takenOver = BrokerObserver.waitFor(ofSeconds(30), () -> {
                ForgeQueueSystem.Lease now = r.system.lease();
                if (now.valid()
                        && now.epoch() > before.epoch()
                        && !leader.name().equals(now.holder())) {
                    taken[0] = now;
                    return true;
                }
                return false;
            });
            if (!takenOver) {
                throw new AssertionError("no other gateway took the scheduler lease within 30 s of the leader's death: "
                        + r.system.lease());
            }
            // the first hand-out after the new leader took the lease (history rows carry the statement's start time)
            Instant from = killedAt.isAfter(taken[0].renewedAt()) ? killedAt : taken[0].renewedAt();
            Instant[] firstHandOut = new Instant[1];
            BrokerObserver.waitFor(ofSeconds(30), () -> {
                Object at = r.system
                        .sql(
                                "select min(occurred_at) as at from job_state_history where reason = 'assigned' "
                                        + "and occurred_at >= ?",
                                java.sql.Timestamp.from(from))
                        .get(0)
                        .get("at");
                firstHandOut[0] = at == null ? null : ((java.sql.Timestamp) at).toInstant();
                return at != null;
            });
            join(burst);
            leader.restart();
            FaultRig.sleep(ofSeconds(2));
            load.stop();

            Verdict v = r.verdict("scenario 14", load, List.of(first, second));
            double leaseAfter = Duration.between(killedAt, taken[0].renewedAt()).toMillis() / 1000.0;
            double failover = firstHandOut[0] == null
                    ? -1
                    : Duration.between(killedAt, firstHandOut[0]).toMillis() / 1000.0;
            List<String> notOnce = new ArrayList<>();
            for (String id : load.acceptedIds()) {
                long runs = r.observer.runs(id);
                if (runs != 1) {
                    notOnce.add(id + " ran " + runs + " times");
                }
            }
            long reassigned = load.acceptedIds().stream()
                    .filter(id -> v.finalViews.get(id) != null
                            && v.finalViews.get(id).path("attempt").asInt() > 1)
                    .count();
            v.expectFailures(Map.of())
                    .require(firstHandOut[0] != null, "the new leader handed out nothing within 30 s")
                    .require(
                            failover >= 0 && failover <= FAILOVER_WITHIN.toMillis() / 1000.0,
                            String.format(
                                    "first hand-out by the new leader %.1f s after the kill, not within %d s",
                                    failover, FAILOVER_WITHIN.toSeconds()))
                    .require(notOnce.isEmpty(), "jobs that did not run exactly once on a GPU: " + notOnce)
                    .note(String.format(
                            "failover %.1f s (killed leader %s; lease taken by %s %.1f s after the kill, "
                                    + "epoch %d -> %d; first hand-out %.1f s after the kill); jobs run once %d/%d; handed "
                                    + "out again (message lost with the leader) %d",
                            failover,
                            leader.name(),
                            taken[0].holder(),
                            leaseAfter,
                            before.epoch(),
                            taken[0].epoch(),
                            failover,
                            load.acceptedIds().size() - notOnce.size(),
                            load.acceptedIds().size(),
                            reassigned));
            v.reportAndAssert();
        }
    }

    @Test
    @Order(4)
    @Scenario(value = 15, title = "worker SIGKILL with a running + assigned job")
    @Timeout(value = 15, unit = TimeUnit.MINUTES)
    void aKilledWorkersRunningAndAssignedJobsBothRunElsewhereOnceWithinTenSeconds() {
        FaultRig r = rig();
        AppProcess victim = r.system.workers().get(0);
        ForgeSimProcess forge = r.system.forgeOf(victim);
        Workload load = r.workload("s15kill", Workload.Settings.steady(ofMillis(300)));
        try (load;
                Watcher live = r.watcher("s15-client", 0, load)) {
            // the victim's next job stays at step 1 on its Forge, so it is still running while the scheduler hands the
            // victim its lookahead
            forge.admin().holdNext(1, 1);
            load.start();
            FaultRig.Assignment[] pair = r.awaitRunningAndAssigned(victim, ofSeconds(60));
            Instant killedAt = Instant.now();
            victim.kill();
            BrokerObserver.Event[] moved = new BrokerObserver.Event[2];
            boolean bothMoved = BrokerObserver.waitFor(ofSeconds(60), () -> {
                for (int i = 0; i < 2; i++) {
                    if (moved[i] == null) {
                        moved[i] = r.observer.startedElsewhere(pair[i].jobId(), pair[i].attempt(), victim.name());
                    }
                }
                return moved[0] != null && moved[1] != null;
            });
            forge.admin().clearFaults(); // the held call of the dead worker ends
            victim.restart();
            FaultRig.sleep(ofSeconds(2));
            load.stop();

            Verdict v = r.verdict("scenario 15", load, List.of(live));
            double[] after = new double[2];
            for (int i = 0; i < 2; i++) {
                after[i] = moved[i] == null
                        ? -1
                        : Duration.between(killedAt, moved[i].receivedAt()).toMillis() / 1000.0;
                String id = pair[i].jobId();
                long succeeded = r.observer.eventsOf(id).stream()
                        .filter(e -> e.type().equals("SUCCEEDED"))
                        .count();
                JsonNode view = v.finalViews.get(id);
                v.require(
                                view != null && view.path("status").asString().equals("SUCCEEDED"),
                                "job " + id + " ended "
                                        + (view == null
                                                ? "?"
                                                : view.path("status").asString()))
                        .require(
                                succeeded == 1
                                        && r.observer.eventsOf(id).stream()
                                                .noneMatch(e -> e.type().equals("SUCCEEDED")
                                                        && e.workerId().equals(victim.name())),
                                "job " + id + " completed " + succeeded + " times");
            }
            long startedOnVictim = r.observer.eventsOf(pair[1].jobId()).stream()
                    .filter(e -> e.type().equals("RUNNING") && e.workerId().equals(victim.name()))
                    .count();
            double lost = Prometheus.sum(
                    r.system.leader() == null
                            ? r.system.gateway(0).managementUrl()
                            : r.system.leader().managementUrl(),
                    "gpu_gateway_scheduler_revocations_total",
                    Map.of("reason", "lost"));
            v.expectFailures(Map.of())
                    .require(
                            bothMoved,
                            "the killed worker's running job " + pair[0].jobId() + " and assigned job "
                                    + pair[1].jobId() + " did not both start elsewhere within 60 s")
                    .require(
                            after[0] >= 0
                                    && after[0] <= RERUN_WITHIN.toSeconds()
                                    && after[1] >= 0
                                    && after[1] <= RERUN_WITHIN.toSeconds(),
                            String.format(
                                    "started elsewhere %.1f s and %.1f s " + "after the kill, not within %d s",
                                    after[0], after[1], RERUN_WITHIN.toSeconds()))
                    .require(startedOnVictim == 0, "the assigned job had started on the victim already")
                    .note(String.format(
                            "killed holding 1 running + 1 assigned; they started elsewhere %.1f s and %.1f s "
                                    + "after the kill (presence timeout %d s); revocations of lost workers on the leader %d",
                            after[0], after[1], ForgeQueueSystem.PRESENCE_TIMEOUT.toSeconds(), (long) lost));
            v.reportAndAssert();
        }
    }

    /** The gateway that is the scheduler; waits for one. */
    private static AppProcess awaitLeader(FaultRig r) {
        AppProcess[] leader = new AppProcess[1];
        if (!BrokerObserver.waitFor(ofSeconds(30), () -> (leader[0] = r.system.leader()) != null)) {
            throw new AssertionError("no gateway holds the scheduler lease: " + r.system.lease());
        }
        return leader[0];
    }

    private static void join(Thread t) {
        try {
            t.join(Duration.ofMinutes(3).toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Waits until the worker's Forge is generating, lets it run a random moment longer, then SIGKILLs the worker. */
    private static Instant killMidJob(AppProcess worker, ForgeSimProcess forge, Random random) {
        awaitBusy(forge);
        AppProcess.sleep(50 + random.nextInt(400));
        worker.kill();
        return Instant.now();
    }

    /**
     * Polls the worker's Forge until a txt2img call completes and SIGKILLs the worker at once: the worker then dies
     * while it decodes the images, publishes the outcome or waits for its confirm, before (or just after) the ack.
     */
    private static Instant killRightAfterForgeReturns(AppProcess worker, ForgeSimProcess forge) {
        long before = forge.admin().state().calls().completed();
        long deadline = System.nanoTime() + ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            if (forge.admin().state().calls().completed() > before) {
                worker.kill();
                return Instant.now();
            }
        }
        throw new AssertionError("worker " + worker.name() + "'s Forge completed no call within 30 s");
    }

    /**
     * SIGKILLs the worker the moment the observer receives its next SUCCEEDED event: the broker has routed (and so
     * confirms) the outcome, and the worker is about to ack the job message, or has just done so.
     */
    private static Instant killOnItsOutcomeEvent(AppProcess worker, BrokerObserver observer) {
        java.util.concurrent.CountDownLatch fired = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.atomic.AtomicBoolean armed = new java.util.concurrent.atomic.AtomicBoolean(true);
        observer.onNewEvent(e -> {
            if (e.type().equals("SUCCEEDED")
                    && e.workerId().equals(worker.name())
                    && armed.compareAndSet(true, false)) {
                worker.killNow();
                fired.countDown();
            }
        });
        try {
            if (!fired.await(30, TimeUnit.SECONDS)) {
                armed.set(false);
                throw new AssertionError("worker " + worker.name() + " published no SUCCEEDED event within 30 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        Instant at = Instant.now();
        worker.kill();
        return at;
    }

    private static void awaitBusy(ForgeSimProcess forge) {
        long deadline = System.nanoTime() + ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            if (forge.admin().state().busy()) {
                return;
            }
            AppProcess.sleep(5);
        }
        throw new AssertionError("Forge at " + forge.baseUrl() + " was not busy within 30 s");
    }

    /**
     * Per kill, from the worker's own events: [0] its running attempt has no outcome event (killed before Forge
     * returned, or after but before the outcome was confirmed), [1] the attempt's outcome was confirmed and the job
     * was delivered again afterwards (killed between the confirm and the ack), [2] otherwise (after the ack).
     */
    private static int[] classify(BrokerObserver observer, List<Kill> kills) {
        int[] counts = new int[3];
        List<BrokerObserver.Event> events = observer.events();
        for (Kill k : kills) {
            BrokerObserver.Event running = events.stream()
                    .filter(e -> e.workerId().equals(k.worker())
                            && e.type().equals("RUNNING")
                            && e.occurredAt() != null
                            && !e.occurredAt().isAfter(k.at()))
                    .max(Comparator.comparing(BrokerObserver.Event::occurredAt))
                    .orElse(null);
            if (running == null) {
                counts[2]++;
                continue;
            }
            boolean outcome = events.stream()
                    .anyMatch(e -> e.jobId().equals(running.jobId())
                            && e.attempt() == running.attempt()
                            && e.workerId().equals(k.worker())
                            && e.isOutcome());
            boolean runAgain =
                    events.stream().anyMatch(e -> e.jobId().equals(running.jobId()) && e.attempt() > running.attempt());
            if (!outcome) {
                counts[0]++;
            } else if (runAgain) {
                counts[1]++;
            } else {
                counts[2]++;
            }
        }
        return counts;
    }
}
