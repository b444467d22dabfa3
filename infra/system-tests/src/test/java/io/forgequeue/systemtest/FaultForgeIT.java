package io.forgequeue.systemtest;

import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;

import io.forgequeue.forgesim.ForgeSimProcess;
import io.forgequeue.model.ErrorCode;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import tools.jackson.databind.JsonNode;

/**
 * Issue 6, scenarios 5, 6 and 7: Forge unreachable for a while, Forge hanging on a call, Forge answering 500 and
 * out-of-memory errors. Two workers, each with a forge-sim of its own, so one worker's Forge can misbehave while the
 * other's is healthy. The workers run with a 3 s call timeout and a circuit breaker that half-opens after 5 s (so the
 * scenarios fit in CI); everything else is the default (2 retries of a 500, none of an OOM or of a call timeout:
 * issue 19).
 */
class FaultForgeIT extends FaultSuite {

    private static final Duration CALL_TIMEOUT = ofSeconds(3);

    @Override
    ForgeQueueSystem.Builder system() {
        return ForgeQueueSystem.builder("faultforge")
                .gateways(1)
                .workers(2)
                .forgeArgs(STEADY_FORGE)
                .gatewayEnv(Map.of("GATEWAY_QUOTAS_MAXQUEUED", "100000"))
                .workerEnv(Map.of(
                        "WORKER_FORGE_CALLTIMEOUT",
                        CALL_TIMEOUT.toSeconds() + "s",
                        "WORKER_FORGE_BREAKER_DELAY",
                        "5s",
                        "WORKER_FORGE_BREAKER_PROBEINTERVAL",
                        "1s",
                        "WORKER_FORGE_RETRY_OUTAGEMAXDELAY",
                        "2s",
                        "WORKER_FORGE_SETTLETIMEOUT",
                        "10s"));
    }

    @Test
    @Order(1)
    @Scenario(value = 5, title = "Forge outage (breakers open)")
    @Timeout(value = 15, unit = TimeUnit.MINUTES)
    void aForgeOutageOpensTheBreakersFailsNoJobAndTheQueueDrainsAfterwards() {
        FaultRig r = rig();
        Duration outage = FaultProfile.pick(ofSeconds(20), ofSeconds(90));
        Workload load = r.workload("s5forge", Workload.Settings.steady(ofMillis(450)));
        try (load;
                Watcher live = r.watcher("s5-client", 0, load)) {
            double opensBefore = breakerOpens(r);
            load.start();
            FaultRig.sleep(ofSeconds(3));
            Instant from = Instant.now();
            for (ForgeSimProcess forge : r.system.forges()) {
                forge.admin().goDown(outage); // comes back by itself
            }
            long maxDepth = 0;
            boolean bothPaused = false;
            // once both workers are paused the scheduler hands them nothing (it takes back their lookahead) and the
            // queue overview counts no worker as available
            boolean leftOut = false;
            Http alice = r.system.http(0, ForgeQueueSystem.ALICE_KEY);
            while (Duration.between(from, Instant.now()).compareTo(outage) < 0) {
                maxDepth = Math.max(maxDepth, r.system.sqlLong("select count(*) from job where status = 'QUEUED'"));
                boolean paused = r.system.workers().stream()
                        .allMatch(w -> Prometheus.sum(w.managementUrl(), "gpu_worker_consuming") == 0);
                bothPaused |= paused;
                if (paused && !leftOut) {
                    long assigned = r.system.sqlLong(
                            "select count(*) from job where status = 'QUEUED' " + "and assigned_worker is not null");
                    JsonNode queue = alice.get("/api/v1/queue").json();
                    leftOut = assigned == 0 && queue.path("availableWorkers").asInt(-1) == 0;
                }
                AppProcess.sleep(500);
            }
            Instant to = Instant.now();
            FaultRig.sleep(ofSeconds(5));
            load.stop();

            Verdict v = r.verdict("scenario 5", load, List.of(live));
            double opens = breakerOpens(r) - opensBefore;
            long givenBack = r.observer.events().stream()
                    .filter(e -> e.type().equals("REQUEUED")
                            && !e.occurredAt().isBefore(from)
                            && !e.occurredAt().isAfter(to.plusSeconds(2)))
                    .count();
            v.expectFailures(Map.of())
                    .require(
                            opens >= r.system.workers().size(),
                            "breakers opened " + opens + " times for "
                                    + r.system.workers().size() + " workers")
                    .require(bothPaused, "the workers never both stopped consuming during the outage")
                    .require(
                            leftOut,
                            "while both workers were paused, jobs stayed assigned to them or the queue "
                                    + "overview still counted them as available")
                    .note("outage " + outage.toSeconds() + " s; breaker openings " + (long) opens + "; jobs given back "
                            + givenBack + "; queued jobs peak " + maxDepth);
            v.reportAndAssert();
        }
    }

    @Test
    @Order(2)
    @Scenario(value = 6, title = "Forge hangs on one job's calls")
    @Timeout(value = 15, unit = TimeUnit.MINUTES)
    void aJobWhoseForgeCallHangsFailsWithTheTimeoutMessageAndTheWorkerCarriesOn() {
        FaultRig r = rig();
        AppProcess worker = r.system.workers().get(0);
        ForgeSimProcess forge = r.system.forgeOf(worker);
        Workload load = r.workload("s6hang", Workload.Settings.steady(ofMillis(400)));
        try (load;
                Watcher live = r.watcher("s6-client", 0, load)) {
            load.start();
            FaultRig.sleep(ofSeconds(2));
            long hungBefore = forge.admin().stats().calls().hung();
            forge.admin().hangNext(1); // the next job's call; a call timeout is not retried (issue 19)
            Instant injected = Instant.now();
            BrokerObserver.Event failed = r.observer.awaitEvent(
                    e -> e.type().equals("FAILED")
                            && e.workerId().equals(worker.name())
                            && !e.receivedAt().isBefore(injected),
                    ofSeconds(60));
            forge.admin().clearFaults();
            BrokerObserver.Event after = r.observer.awaitEvent(
                    e -> e.type().equals("SUCCEEDED")
                            && e.workerId().equals(worker.name())
                            && e.receivedAt().isAfter(failed.receivedAt()),
                    ofSeconds(30));
            FaultRig.sleep(ofSeconds(2));
            load.stop();

            Verdict v = r.verdict("scenario 6", load, List.of(live));
            long hung = forge.admin().stats().calls().hung() - hungBefore;
            JsonNode job = v.finalViews.get(failed.jobId());
            v.expectFailures(Map.of(ErrorCode.FORGE_TIMEOUT.name(), 1));
            if (job == null) {
                v.violation("the failed job " + failed.jobId() + " is not one of the workload's");
            } else {
                String expected =
                        "The image server did not answer within " + CALL_TIMEOUT.toSeconds() + " s. Please try again.";
                Duration took = Duration.between(
                        Instant.parse(job.path("startedAt").asString()),
                        Instant.parse(job.path("finishedAt").asString()));
                v.require(
                                expected.equals(
                                        job.path("error").path("message").asString()),
                                "message '" + job.path("error").path("message").asString() + "', expected '" + expected
                                        + "'")
                        .require(job.path("error").path("retryable").asBoolean(), "a timeout should be retryable")
                        .require(
                                took.compareTo(CALL_TIMEOUT) >= 0,
                                "failed after " + took + ", before its call could time out at " + CALL_TIMEOUT)
                        .require(
                                took.compareTo(CALL_TIMEOUT.multipliedBy(2)) < 0,
                                "failed after " + took + ": the timed-out call was retried at full length")
                        .note("hung calls " + hung + "; the job failed "
                                + String.format("%.1f", took.toMillis() / 1000.0)
                                + " s after it started; the worker's next success "
                                + Duration.between(failed.receivedAt(), after.receivedAt())
                                        .toMillis() + " ms later");
            }
            v.require(
                    hung == 1, "forge-sim counted " + hung + " hung calls, expected 1 (a call timeout is not retried)");
            v.reportAndAssert();
        }
    }

    @Test
    @Order(3)
    @Scenario(value = 7, title = "Forge answers 500 / OutOfMemoryError")
    @Timeout(value = 15, unit = TimeUnit.MINUTES)
    void forgeErrorsAreRetriedWhereSensibleThenFailTheJobWithAClearMessage() {
        FaultRig r = rig();
        AppProcess worker = r.system.workers().get(0);
        ForgeSimProcess forge = r.system.forgeOf(worker);
        Workload load = r.workload("s7err", Workload.Settings.steady(ofMillis(400)));
        try (load;
                Watcher live = r.watcher("s7-client", 0, load)) {
            double retriesBefore = Prometheus.sum(
                    worker.managementUrl(), "gpu_worker_forge_retries_total", Map.of("reason", "failure"));
            load.start();
            FaultRig.sleep(ofSeconds(2));
            long failed0 = forge.admin().stats().calls().failed();
            // (a) one 500: the retry succeeds, the job is not affected
            forge.admin().failNext(1);
            awaitFailedCalls(forge, failed0 + 1);
            // (b) three 500s in a row: the call and both retries fail, the job fails FORGE_ERROR
            Instant b = Instant.now();
            forge.admin().failNext(3);
            awaitFailedCalls(forge, failed0 + 4);
            BrokerObserver.Event forgeError = r.observer.awaitEvent(
                    e -> e.type().equals("FAILED")
                            && e.workerId().equals(worker.name())
                            && !e.receivedAt().isBefore(b),
                    ofSeconds(30));
            // (c) out of memory: not retried (the same size would run out again), the job fails at once
            Instant c = Instant.now();
            forge.admin().failNextWithOutOfMemory(1);
            awaitFailedCalls(forge, failed0 + 5);
            BrokerObserver.Event oom = r.observer.awaitEvent(
                    e -> e.type().equals("FAILED")
                            && e.workerId().equals(worker.name())
                            && !e.receivedAt().isBefore(c),
                    ofSeconds(30));
            FaultRig.sleep(ofSeconds(2));
            load.stop();

            Verdict v = r.verdict("scenario 7", load, List.of(live));
            double retries = Prometheus.sum(
                            worker.managementUrl(), "gpu_worker_forge_retries_total", Map.of("reason", "failure"))
                    - retriesBefore;
            v.expectFailures(Map.of(ErrorCode.FORGE_ERROR.name(), 1, ErrorCode.FORGE_OUT_OF_MEMORY.name(), 1));
            checkFailure(v, forgeError.jobId(), ErrorCode.FORGE_ERROR);
            checkFailure(v, oom.jobId(), ErrorCode.FORGE_OUT_OF_MEMORY);
            v.require(
                            retries == 3,
                            "the worker retried " + retries + " failed calls, expected 3 (1 for the single 500, "
                                    + "2 for the three 500s, none for the out-of-memory error)")
                    .note("Forge 500s injected 4 (1 absorbed by a retry), OOM 1; worker retries " + (long) retries);
            v.reportAndAssert();
        }
    }

    private static void checkFailure(Verdict v, String jobId, ErrorCode code) {
        JsonNode job = v.finalViews.get(jobId);
        if (job == null) {
            v.violation("failed job " + jobId + " is not one of the workload's");
            return;
        }
        v.require(
                        code.name().equals(job.path("error").path("code").asString()),
                        jobId + " failed with " + job.path("error").path("code").asString() + ", expected " + code)
                .require(
                        code.defaultMessage()
                                .equals(job.path("error").path("message").asString()),
                        jobId + " message '" + job.path("error").path("message").asString() + "'");
    }

    private static double breakerOpens(FaultRig r) {
        double total = 0;
        for (AppProcess w : r.system.workers()) {
            total += Prometheus.sum(
                    w.managementUrl(), "gpu_worker_forge_breaker_transitions_total", Map.of("state", "open"));
        }
        return total;
    }

    private static void awaitFailedCalls(ForgeSimProcess forge, long atLeast) {
        if (!BrokerObserver.waitFor(
                ofSeconds(30), () -> forge.admin().stats().calls().failed() >= atLeast)) {
            throw new AssertionError(
                    "forge-sim failed only " + forge.admin().stats().calls().failed() + " calls, expected " + atLeast);
        }
    }
}
