package io.forgequeue.systemtest;

import static io.forgequeue.systemtest.ForgeQueueSystem.ALICE_KEY;
import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 6, scenarios 2 and 4: RabbitMQ and PostgreSQL restarted under load. The system runs on a RabbitMQ node and
 * a PostgreSQL cluster of its own ({@link PrivateServer}: ports {@value PrivateServer#RABBIT_PORT} and
 * {@value PrivateServer#PG_PORT} or the next free ones, data under {@code .run/faults}), never on the shared test
 * servers.
 */
class FaultInfrastructureRestartIT extends FaultSuite {

    @Override
    ForgeQueueSystem.Builder system() {
        return ForgeQueueSystem.builder("faultinfra")
                .gateways(2)
                .workers(2)
                .privateRabbit(PrivateServer.freePort(true, PrivateServer.RABBIT_PORT))
                .privatePostgres(PrivateServer.freePort(false, PrivateServer.PG_PORT))
                .forgeArgs(STEADY_FORGE)
                .gatewayEnv(Map.of("GATEWAY_QUOTAS_MAXQUEUED", "100000"));
    }

    @Test
    @Order(1)
    @Scenario(value = 2, title = "RabbitMQ stop/start and kill -9/start")
    @Timeout(value = 15, unit = TimeUnit.MINUTES)
    void restartingTheBrokerUnderLoadLosesNoJobAndCompletesNoneTwice() {
        FaultRig r = rig();
        List<Boolean> crashes = FaultProfile.LONG ? List.of(false, true, false, true) : List.of(false, true);
        Duration down = FaultProfile.pick(ofSeconds(2), ofSeconds(15));
        Workload load =
                r.workload("s2mq", Workload.Settings.steady(ofMillis(300)).withCancelEvery(10));
        try (load;
                Watcher live = r.watcher("s2-client-gw1", 0, load);
                Watcher other = r.watcher("s2-client-gw2", 1, load)) {
            load.start();
            FaultRig.sleep(ofSeconds(3));
            List<String> outages = new ArrayList<>();
            List<String> cancelledWhileDown = new ArrayList<>();
            for (boolean crash : crashes) {
                PrivateServer broker = r.system.rabbitServer();
                long started = System.nanoTime();
                if (crash) {
                    broker.kill();
                } else {
                    broker.stop();
                }
                // a client of gateway 1 submits a job and cancels it while the broker is away (both work: the
                // database is up); clients of gateway 2 must still be told, once the broker is back
                Http gw1 = r.system.http(0, ALICE_KEY);
                Workload.Submission whileDown = load.submitOneVia(gw1);
                Http.Answer cancel = load.cancelNow(whileDown, gw1);
                cancelledWhileDown.add(cancel.status() + " " + (cancel.status() == 200 ? whileDown.toldByCancel : ""));
                FaultRig.sleep(down);
                broker.start();
                VirtualHosts.enableTracing(r.system.rabbit()); // the restarted node forgot it (BrokerObserver)
                outages.add(
                        (crash ? "kill -9" : "stop") + String.format(" %.0f s", (System.nanoTime() - started) / 1e9));
                FaultRig.sleep(FaultProfile.pick(ofSeconds(5), ofSeconds(15)));
            }
            load.stop();

            Verdict v = r.verdict("scenario 2", load, List.of(live, other));
            double redundant = r.system.gateways().stream()
                    .mapToDouble(g -> Prometheus.sum(g.managementUrl(), "gpu_gateway_jobs_redundant_attempts_total"))
                    .sum();
            v.expectFailures(Map.of())
                    .note("broker outages " + outages + "; client connects " + live.connects() + " + "
                            + other.connects()
                            + "; jobs submitted and cancelled during an outage " + cancelledWhileDown
                            + "; finished jobs started again and stopped by a cancel " + (long) redundant);
            v.reportAndAssert();
        }
    }

    @Test
    @Order(2)
    @Scenario(value = 4, title = "PostgreSQL stop/start and kill -9/start")
    @Timeout(value = 15, unit = TimeUnit.MINUTES)
    void restartingTheDatabaseAnswers503ThenMergesEveryEventOnceItIsBack() {
        FaultRig r = rig();
        List<Boolean> crashes = FaultProfile.LONG ? List.of(false, true, false, true) : List.of(false, true);
        Duration down = FaultProfile.pick(ofSeconds(6), ofSeconds(30));
        // half the submissions carry an Idempotency-Key, half do not: both paths must answer 503, never 500
        Workload load =
                r.workload("s4pg", Workload.Settings.steady(ofMillis(300)).withKeys(Workload.Keys.ALTERNATE));
        try (load;
                Watcher live = r.watcher("s4-client", 0, load)) {
            load.start();
            FaultRig.sleep(ofSeconds(3));
            List<Instant[]> windows = new ArrayList<>();
            List<String> probeProblems = new ArrayList<>();
            int probes = 0;
            for (boolean crash : crashes) {
                load.burst(8); // a backlog, so that workers report outcomes while the database is away
                PrivateServer pg = r.system.postgresServer();
                Instant from = Instant.now();
                if (crash) {
                    pg.kill();
                } else {
                    pg.stop();
                }
                FaultRig.sleep(ofSeconds(1));
                for (Http.Answer a : probeWhileDown(r)) {
                    probes++;
                    String problem = a.status() == 503 ? ProblemCheck.violation(a) : "answered " + a.status();
                    if (problem == null && a.header("Retry-After") == null) {
                        problem = "503 without Retry-After";
                    }
                    if (problem != null) {
                        probeProblems.add(problem + ": " + a.text());
                    }
                }
                FaultRig.sleep(down.minusSeconds(1));
                pg.start();
                windows.add(new Instant[] {from, Instant.now()});
                FaultRig.sleep(FaultProfile.pick(ofSeconds(4), ofSeconds(15)));
            }
            load.stop();

            Verdict v = r.verdict("scenario 4", load, List.of(live));
            long reportedWhileDown = r.observer.events().stream()
                    .filter(e -> e.type().equals("SUCCEEDED")
                            && e.jobId() != null
                            && load.acceptedIds().contains(e.jobId()))
                    .filter(e -> windows.stream()
                            .anyMatch(w -> !e.occurredAt().isBefore(w[0])
                                    && e.occurredAt().isBefore(w[1])))
                    .count();
            int refused = v.answers.getOrDefault(503, 0);
            v.expectFailures(Map.of())
                    .require(refused > 0, "no submission was answered 503 while the database was down")
                    .require(
                            reportedWhileDown > 0,
                            "no job finished while the database was down: nothing to merge later")
                    .note("database outages " + crashes.size() + " x " + down.toSeconds()
                            + " s; submissions answered 503 "
                            + refused + " (retried later); probes during outage " + probes + " (" + probeProblems.size()
                            + " bad); outcomes reported during an outage and merged after it " + reportedWhileDown);
            probeProblems.forEach(p -> v.violation("while the database was down: " + p));
            long probesStored =
                    r.system.sqlLong("select count(*) from job where starts_with(spec->>'prompt', 's4probe')");
            v.require(probesStored == 0, probesStored + " job(s) stored from submissions that were answered 503");
            v.reportAndAssert();
        }
    }

    /** Requests a client makes while the database is away: each must be a clean 503 problem. */
    private static List<Http.Answer> probeWhileDown(FaultRig r) {
        Http alice = r.system.http(0, ALICE_KEY);
        List<Http.Answer> answers = new ArrayList<>();
        answers.add(alice.attemptPost(
                "/api/v1/jobs",
                ForgeQueueSystem.job("s4probe-keyed", 5),
                Map.of("Idempotency-Key", "s4probe-keyed-" + System.nanoTime())));
        answers.add(alice.attemptPost("/api/v1/jobs", ForgeQueueSystem.job("s4probe-plain", 5), Map.of()));
        answers.add(alice.attemptGet("/api/v1/jobs?limit=5"));
        answers.add(alice.attemptGet("/api/v1/jobs/" + java.util.UUID.randomUUID()));
        answers.add(alice.attemptDelete("/api/v1/jobs/" + java.util.UUID.randomUUID()));
        return answers;
    }
}
