package io.forgequeue.systemtest;

import com.rabbitmq.client.AMQP;
import io.forgequeue.forgesim.ForgeSimProcess;
import io.forgequeue.model.ErrorCode;
import io.forgequeue.model.Topology;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import tools.jackson.databind.JsonNode;

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

import static io.forgequeue.systemtest.ForgeQueueSystem.ALICE_KEY;
import static java.time.Duration.ofMillis;
import static java.time.Duration.ofSeconds;

/**
 * Issue 6, scenarios 8, 9 and 10: poison messages published straight to the job queue, duplicated and reordered
 * status events injected straight into the events exchange, and a worker frozen (SIGSTOP) mid-job until the stuck
 * sweep fails its job, then resumed (SIGCONT). The gateway sweeps every second with an 8 s threshold and the workers
 * heartbeat every 2 s, so a stuck job is noticed within CI time.
 */
class FaultMessagesIT extends FaultSuite {

    private static final Duration STUCK_THRESHOLD = ofSeconds(8);

    @Override
    ForgeQueueSystem.Builder system() {
        return ForgeQueueSystem.builder("faultmsg").gateways(1).workers(2).forgePerWorker()
                .forgeArgs(STEADY_FORGE)
                .gatewayEnv(Map.of("GATEWAY_JOBS_MAXINFLIGHT", "100000",
                        "GATEWAY_STUCKSWEEP_THRESHOLD", STUCK_THRESHOLD.toSeconds() + "s",
                        "GATEWAY_STUCKSWEEP_INTERVAL", "1s"))
                .workerEnv(Map.of("WORKER_PROGRESS_HEARTBEATINTERVAL", "2s"));
    }

    @Test
    @Order(1)
    @Scenario(value = 8, title = "poison messages on the job queue")
    @Timeout(value = 15, unit = TimeUnit.MINUTES)
    void poisonMessagesAreDeadLetteredAndTheWorkersKeepWorking() {
        FaultRig r = rig();
        String deadQueue = Topology.deadLetterQueue(Topology.DEFAULT_POOL);
        Workload load = r.workload("s8poison", Workload.Settings.steady(ofMillis(300)));
        try (load; Watcher live = r.watcher("s8-client", 0, load)) {
            load.start();
            FaultRig.sleep(ofSeconds(2));
            long deadBefore = Math.max(0, r.observer.readyMessages(deadQueue));
            double unknownBefore = Prometheus.sum(r.system.gateway(0).baseUrl(), "gpu_gateway_events_rejected_total",
                    Map.of("reason", "unknown-job"));
            Map<String, byte[]> poison = poisonMessages();
            AMQP.BasicProperties json = new AMQP.BasicProperties.Builder().contentType("application/json").deliveryMode(2).build();
            int i = 0;
            for (byte[] body : poison.values()) {
                if (i++ % 2 == 0) {
                    // compile fix only (no pool job queue since issue 16): straight to the first worker's own queue
                    r.observer.inject("", Topology.workerQueue(r.system.workers().get(0).name()), json, body);
                } else {
                    r.observer.inject(Topology.JOBS_EXCHANGE, Topology.DEFAULT_POOL, json, body);
                }
                AppProcess.sleep(150);
            }
            Instant injected = Instant.now();
            boolean allDead = BrokerObserver.waitFor(ofSeconds(30),
                    () -> r.observer.readyMessages(deadQueue) >= deadBefore + poison.size());
            long dead = r.observer.readyMessages(deadQueue) - deadBefore;
            Set<String> stillWorking = new HashSet<>();
            BrokerObserver.waitFor(ofSeconds(30), () -> {
                r.observer.events().stream().filter(e -> e.type().equals("SUCCEEDED") && e.receivedAt().isAfter(injected))
                        .forEach(e -> stillWorking.add(e.workerId()));
                return stillWorking.size() == r.system.workers().size();
            });
            load.stop();

            Verdict v = r.verdict("scenario 8", load, List.of(live));
            double unknown = Prometheus.sum(r.system.gateway(0).baseUrl(), "gpu_gateway_events_rejected_total",
                    Map.of("reason", "unknown-job")) - unknownBefore;
            long stored = r.system.sqlLong("select count(*) from job where not starts_with(spec->>'prompt', 's')");
            v.expectFailures(Map.of())
                    .require(allDead && dead == poison.size(), "dead-lettered " + dead + " of " + poison.size() + " poison messages")
                    .require(stillWorking.size() == r.system.workers().size(), "workers that completed a job after the "
                            + "poison: " + stillWorking)
                    .require(r.system.workers().stream().allMatch(AppProcess::isAlive), "a worker died")
                    .require(stored == 0, stored + " job rows appeared from poison messages")
                    .note("poison messages " + poison.size() + " (" + String.join(", ", poison.keySet()) + "); dead-lettered "
                            + dead + "; FAILED events for an unknown job refused by the gateway " + (long) unknown);
            v.reportAndAssert();
        }
    }

    @Test
    @Order(2)
    @Scenario(value = 9, title = "duplicate and reordered status events")
    @Timeout(value = 15, unit = TimeUnit.MINUTES)
    void duplicatedAndReorderedEventsLeaveEveryJobAsInOrderDeliveryWould() {
        FaultRig r = rig();
        String gateway = r.system.gateway(0).baseUrl();
        Workload load = r.workload("s9dup", Workload.Settings.steady(ofMillis(300)).withCancelEvery(8));
        Set<String> before = new HashSet<>();
        r.observer.events().forEach(e -> before.add(e.jobId()));
        ScheduledExecutorService injector = Executors.newScheduledThreadPool(2);
        Random random = new Random(9);
        AtomicInteger liveCopies = new AtomicInteger();
        try (load; Watcher live = r.watcher("s9-client", 0, load)) {
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
                        injector.schedule(() -> {
                            r.observer.replay(e);
                            liveCopies.incrementAndGet();
                        }, delay, TimeUnit.MILLISECONDS);
                    } catch (RuntimeException ignored) {
                        // shutting down
                    }
                }
            });
            load.start();
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
            double handledBefore = handled(gateway);
            Map<String, Double> rejectedBefore = rejectedByReason(gateway);
            for (BrokerObserver.Event e : replay) {
                r.observer.replay(e);
            }
            boolean drained = BrokerObserver.waitFor(ofSeconds(60), () -> handled(gateway) - handledBefore >= replay.size());
            awaitMergesQuiet(r, gateway);
            Map<String, Double> rejected = rejectedByReason(gateway);
            rejected.replaceAll((k, x) -> x - rejectedBefore.getOrDefault(k, 0.0));
            rejected.values().removeIf(x -> x == 0);
            Map<String, Long> refused = new LinkedHashMap<>();
            rejected.forEach((k, x) -> refused.put(k, Math.round(x)));

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
                    .require(drained, "the gateway did not handle all " + replay.size() + " replayed events within 60 s")
                    .note("live duplicates " + liveCopies.get() + "; replayed afterwards " + replay.size()
                            + " (2 shuffled copies + 1 reversed of " + events.size() + " events); refused by reason "
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
    void aFrozenWorkersJobIsFailedAsStuckAndItsLateEventsDoNotResurrectIt() {
        FaultRig r = rig();
        AppProcess victim = r.system.workers().get(0);
        ForgeSimProcess forge = r.system.forgeOf(victim);
        Http alice = r.system.http(0, ALICE_KEY);
        // jobs of 1.6-2.4 s, so that the freeze lands in the middle of one
        Workload load = r.workload("s10stuck", Workload.Settings.steady(ofMillis(1200)).withSteps(40, 60));
        try (load; Watcher live = r.watcher("s10-client", 0, load)) {
            load.start();
            String stuck = null;
            Instant frozenAt = null;
            for (int tries = 0; tries < 5 && stuck == null; tries++) {
                BrokerObserver.waitFor(ofSeconds(30), () -> forge.admin().state().busy());
                AppProcess.sleep(400);
                victim.freeze();
                frozenAt = Instant.now();
                stuck = runningOn(r, victim.name());
                if (stuck == null) {
                    victim.resume(); // froze between two jobs: try again
                    AppProcess.sleep(1000);
                }
            }
            if (stuck == null) {
                throw new AssertionError("could not freeze " + victim.name() + " in the middle of a job");
            }
            String stuckId = stuck;
            boolean failed = BrokerObserver.waitFor(STUCK_THRESHOLD.plusSeconds(45),
                    () -> "FAILED".equals(alice.get("/api/v1/jobs/" + stuckId).json().path("status").asString()));
            Instant failedAt = Instant.now();
            // keep it frozen a while longer (long profile: 150 s, past the broker's heartbeat timeout of the worker's
            // connection (60 s negotiated), so the broker drops it and hands the job to the other worker)
            Instant until = FaultProfile.LONG ? frozenAt.plusSeconds(150) : failedAt.plusSeconds(3);
            while (Instant.now().isBefore(until)) {
                AppProcess.sleep(200);
            }
            JsonNode beforeResume = alice.get("/api/v1/jobs/" + stuckId).json();
            victim.resume();
            Instant resumedAt = Instant.now();
            BrokerObserver.Event carriesOn = null;
            try {
                carriesOn = r.observer.awaitEvent(e -> e.type().equals("SUCCEEDED")
                        && e.workerId().equals(victim.name()) && !e.jobId().equals(stuckId)
                        && e.receivedAt().isAfter(resumedAt), ofSeconds(40));
            } catch (AssertionError e) {
                // reported below
            }
            FaultRig.sleep(ofSeconds(3));
            JsonNode afterResume = alice.get("/api/v1/jobs/" + stuckId).json();
            List<BrokerObserver.Event> late = r.observer.eventsOf(stuckId).stream()
                    .filter(e -> e.receivedAt().isAfter(resumedAt)).toList();
            load.stop();

            Verdict v = r.verdict("scenario 10", load, List.of(live));
            Duration detect = Duration.between(frozenAt, failedAt);
            String message = beforeResume.path("error").path("message").asString("");
            v.expectFailures(Map.of(ErrorCode.JOB_STUCK.name(), 1))
                    .require(failed, "the frozen worker's job " + stuckId + " was not failed by the sweep")
                    .require(ErrorCode.JOB_STUCK.name().equals(beforeResume.path("error").path("code").asString()),
                            "failed with " + beforeResume.path("error"))
                    .require(message.contains("stopped reporting progress for more than " + STUCK_THRESHOLD.toSeconds()
                            + " seconds") && message.contains("Please submit it again"), "message '" + message + "'")
                    .require(detect.compareTo(STUCK_THRESHOLD.minusSeconds(3)) >= 0,
                            "failed " + detect + " after the freeze, before the " + STUCK_THRESHOLD + " threshold")
                    .require(afterResume.equals(beforeResume), "the resumed worker's late events changed the job: "
                            + beforeResume + " -> " + afterResume)
                    .require(!late.isEmpty(), "the resumed worker sent no late event for the stuck job")
                    .require(carriesOn != null, "the resumed worker completed no other job within 40 s")
                    .note("sweep failed the job " + String.format("%.1f", detect.toMillis() / 1000.0) + " s after the freeze "
                            + "(threshold " + STUCK_THRESHOLD.toSeconds() + " s); frozen " + Duration.between(frozenAt,
                            resumedAt).toSeconds() + " s; late events after resume " + late.stream()
                            .map(e -> e.type() + "#" + e.attempt()).toList() + " ignored");
            v.reportAndAssert();
        }
    }

    /**
     * The job a worker is running now, per the database (RUNNING on that worker), or null. The API does not say which
     * worker runs a job: that is the operators' business.
     */
    private static String runningOn(FaultRig r, String worker) {
        List<Map<String, Object>> rows = r.system.sql(
                "select id::text as id from job where status = 'RUNNING' and worker_id = ? limit 1", worker);
        return rows.isEmpty() ? null : (String) rows.get(0).get("id");
    }

    /** Events merged or refused by the gateway so far. */
    private static double handled(String gateway) {
        return Prometheus.sum(gateway, "gpu_gateway_events_merged_total") + Prometheus.sum(gateway, "gpu_gateway_events_rejected_total");
    }

    private static Map<String, Double> rejectedByReason(String gateway) {
        Map<String, Double> out = new LinkedHashMap<>();
        for (String reason : List.of("duplicate", "terminal", "stale-attempt", "illegal-transition", "unknown-job")) {
            out.put(reason, Prometheus.sum(gateway, "gpu_gateway_events_rejected_total", Map.of("reason", reason)));
        }
        return out;
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

    /** Job messages no worker can run: each must be dead-lettered without harming the worker. */
    private static Map<String, byte[]> poisonMessages() {
        Map<String, byte[]> m = new LinkedHashMap<>();
        byte[] random = new byte[256];
        new Random(8).nextBytes(random);
        m.put("random bytes", random);
        m.put("empty body", new byte[0]);
        m.put("not JSON", utf8("this is not a job"));
        m.put("JSON array", utf8("[]"));
        m.put("empty object", utf8("{}"));
        m.put("id not a UUID", utf8("{\"jobId\":\"not-a-uuid\",\"ticket\":1,\"pool\":\"default\",\"spec\":{\"prompt\":\"x\","
                + "\"width\":64,\"height\":64,\"steps\":5,\"cfgScale\":7,\"seed\":1,\"batchSize\":1},"
                + "\"submittedAt\":\"2026-01-01T00:00:00Z\"}"));
        m.put("impossible spec", utf8("{\"jobId\":\"" + UUID.randomUUID() + "\",\"ticket\":1,\"pool\":\"default\","
                + "\"spec\":{\"prompt\":\"x\",\"width\":7,\"height\":64,\"steps\":0,\"cfgScale\":7,\"seed\":1,"
                + "\"batchSize\":1},\"submittedAt\":\"2026-01-01T00:00:00Z\"}"));
        m.put("no spec", utf8("{\"jobId\":\"" + UUID.randomUUID() + "\",\"ticket\":1,\"pool\":\"default\","
                + "\"submittedAt\":\"2026-01-01T00:00:00Z\"}"));
        m.put("wrong types", utf8("{\"jobId\":5,\"ticket\":\"x\",\"pool\":[],\"spec\":\"draw\",\"submittedAt\":false}"));
        m.put("truncated", utf8("{\"jobId\":\"" + UUID.randomUUID() + "\",\"ticket\":1,\"pool\":\"def"));
        m.put("nested 100000 deep", utf8("[".repeat(100_000)));
        m.put("1 MiB string", utf8("{\"jobId\":\"" + "x".repeat(1 << 20) + "\"}"));
        return m;
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
