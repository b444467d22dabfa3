package io.forgequeue.systemtest;

import io.forgequeue.forgesim.ForgeSimProcess;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;

/**
 * Issue 6, scenarios 1 and 3: SIGKILL of workers (at random moments mid-job, and right after Forge returned) and of
 * gateways (two running, clients reconnect to the other), under a steady stream of jobs. Two gateways, two workers,
 * each worker with a forge-sim of its own so a kill can be timed on that worker's Forge.
 */
class FaultProcessKillIT extends FaultSuite {

    @Override
    ForgeQueueSystem.Builder system() {
        return ForgeQueueSystem.builder("faultkill").gateways(2).workers(2).forgePerWorker()
                .forgeArgs(STEADY_FORGE)
                .gatewayEnv(Map.of("GATEWAY_JOBS_MAXINFLIGHT", "100000",
                        // a gateway killed between commit and publish leaves its outbox entry leased: keep it short
                        "GATEWAY_JOBS_OUTBOXLEASE", "3s", "GATEWAY_OUTBOX_LEASE", "3s"));
    }

    /** When a worker was killed, and how the moment was chosen. */
    private record Kill(String worker, Instant at, String moment) {
    }

    @Test
    @Order(1)
    @Scenario(value = 1, title = "worker SIGKILL mid-job / after Forge")
    @Timeout(value = 15, unit = TimeUnit.MINUTES)
    void jobsOfWorkersKilledAtAnyMomentAllFinishOnceAndNoneFails() {
        FaultRig r = rig();
        int kills = FaultProfile.pick(4, 12);
        Random random = new Random(6);
        Workload load = r.workload("s1kill", Workload.Settings.steady(ofMillis(350)).withSteps(8, 16).withSize(512)
                .withCancelEvery(9));
        List<Kill> done = new ArrayList<>();
        try (load; Watcher live = r.watcher("s1-client", 0, load)) {
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
                    .note("kills " + kills + " (" + done.stream().map(Kill::moment).distinct()
                            .map(m -> done.stream().filter(x -> x.moment().equals(m)).count() + " " + m).toList()
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
        Workload load = r.workload("s3gw", Workload.Settings.steady(ofMillis(300)).withCancelEvery(10));
        try (load; Watcher first = r.watcher("s3-client-gw1", 0, load);
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
                    .require(first.connects() > 1 && second.connects() > 1,
                            "each live client should have reconnected after its gateway died (connects: "
                                    + first.connects() + ", " + second.connects() + ")")
                    .note("gateway kills " + kills + "; client reconnects " + (first.connects() - 1) + " + "
                            + (second.connects() - 1) + "; submissions without answer retried with the same "
                            + "Idempotency-Key " + noAnswer);
            v.reportAndAssert();
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
            if (e.type().equals("SUCCEEDED") && e.workerId().equals(worker.name()) && armed.compareAndSet(true, false)) {
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
                    .filter(e -> e.workerId().equals(k.worker()) && e.type().equals("RUNNING")
                            && e.occurredAt() != null && !e.occurredAt().isAfter(k.at()))
                    .max(Comparator.comparing(BrokerObserver.Event::occurredAt)).orElse(null);
            if (running == null) {
                counts[2]++;
                continue;
            }
            boolean outcome = events.stream().anyMatch(e -> e.jobId().equals(running.jobId())
                    && e.attempt() == running.attempt() && e.workerId().equals(k.worker()) && e.isOutcome());
            boolean runAgain = events.stream().anyMatch(e -> e.jobId().equals(running.jobId())
                    && e.attempt() > running.attempt());
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
