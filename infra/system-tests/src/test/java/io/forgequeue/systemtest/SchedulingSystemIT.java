package io.forgequeue.systemtest;

import static io.forgequeue.systemtest.ScheduleTrace.figure;
import static io.forgequeue.systemtest.ScheduleTrace.submit;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.forgequeue.forgesim.ForgeSimProcess;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import tools.jackson.databind.JsonNode;

/**
 * Issue 16's acceptance, with real processes: one gateway (the scheduler), two workers each with a forge-sim of its
 * own (one GPU each), jobs of about 0.4 s. Fair share between keys, priority classes, no starvation of {@code low}
 * jobs, and positions that follow the scheduler's plan. Each test uses API keys of its own (added with SQL as an
 * operator does), so the keys' fair-share clocks of one test do not carry over into the next. The fairness test
 * runs first, on a pool without job history (its cost estimates are defaults until A's first jobs finished).
 *
 * <p>Where a test needs hand-outs at moments it chooses, it holds the GPUs: forge-sim holds every call at its first
 * step (the job is RUNNING, the worker's slot stays taken) until the test releases one, so the scheduler can hand out
 * a job only when the test lets a worker finish one. What the scheduler decided is read from PostgreSQL
 * ({@link ScheduleTrace}: every hand-out is a history row, in decision order).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SchedulingSystemIT {

    /** forge-sim's time per step and the steps of every job here: about 0.4 s of "GPU" per job. */
    private static final String STEP_MS = "40";

    private static final int STEPS = 10;
    /** A {@code low} job that waited this long competes as {@code normal} (GATEWAY_SCHEDULER_LOWPRIORITYMAXWAIT). */
    private static final Duration LOW_MAX_WAIT = Duration.ofSeconds(5);
    /** How often the leader promotes aged {@code low} jobs (Dispatcher.PROMOTE_EVERY_NANOS) plus one round. */
    private static final Duration PROMOTION_SWEEP = Duration.ofMillis(1500);

    private static final Duration FINISH = Duration.ofSeconds(150);
    private static final List<String> SIM_ARGS =
            List.of("--step-ms", STEP_MS, "--model-load-ms", "0", "--preview-every", "-1");

    private ForgeQueueSystem system;
    private ScheduleTrace trace;
    private AppProcess w1;
    private AppProcess w2;

    @BeforeAll
    void startSystem() throws Exception {
        system = ForgeQueueSystem.builder("sched16")
                .gateways(1)
                .workers(0)
                .forgeArgs(SIM_ARGS)
                .gatewayEnv(Map.of("GATEWAY_SCHEDULER_LOWPRIORITYMAXWAIT", LOW_MAX_WAIT.toMillis() + "ms"))
                .start();
        trace = new ScheduleTrace(system);
        ExecutorService starts = Executors.newFixedThreadPool(2);
        try {
            Future<AppProcess> first = starts.submit(() -> system.addWorkerWithForge(SIM_ARGS));
            Future<AppProcess> second = starts.submit(() -> system.addWorkerWithForge(SIM_ARGS));
            first.get();
            second.get();
        } finally {
            starts.shutdownNow();
        }
        w1 = system.workers().get(0);
        w2 = system.workers().get(1);
        awaitAvailableWorkers(2);
    }

    @AfterAll
    void stopSystem() {
        if (system != null) {
            system.close();
        }
    }

    @BeforeEach
    void nothingLeftOver() {
        trace.awaitIdle(FINISH);
    }

    @AfterEach
    void letTheGpusRun() {
        for (AppProcess w : List.of(w1, w2)) {
            system.forgeOf(w).admin().clearFaults();
        }
    }

    /**
     * Key A queues 24 jobs; while they run (after A's first jobs finished, so the gateway has measured job times),
     * key B submits 4 at once. Start-time fair queuing gives B the next turn and then alternates: B's 4 jobs are among
     * the 8 hand-outs that follow B's submission (B, A, B, A, B, A, B is 7; one more for a decision that was already
     * under way when B's job arrived). While both keys have work, they get the same GPU time: from the start of B's
     * first job to the end of its last, each key's GPU seconds (clipped to that period) are within 20 % of the other's.
     */
    @Test
    @Order(1)
    void aSecondKeysJobsStartWithinTheNextEightHandOutsAndBothKeysGetTheSameGpuTimeWhileBothWait() throws Exception {
        Http a = http(trace.createKey("fair-a", null));
        Http b = http(trace.createKey("fair-b", null));
        List<String> aJobs = new ArrayList<>();
        for (int i = 0; i < 24; i++) {
            aJobs.add(submit(a, ScheduleTrace.job("a's fox " + i, STEPS, null, null)));
        }
        trace.awaitSucceeded("fair-a", 4, FINISH);

        List<String> bJobs = ScheduleTrace.submitAtOnce(
                b,
                IntStream.range(0, 4)
                        .mapToObj(i -> ScheduleTrace.job("b's owl " + i, STEPS, null, null))
                        .toList());

        ScheduleTrace.Sharing sharing = trace.awaitSharing(aJobs, bJobs, FINISH);
        figure("fairness", sharing.toString());

        trace.assertSharedFairly(aJobs, bJobs, sharing);
    }

    /**
     * A {@code high} job submitted behind 20 {@code normal} ones of the same key (so neither fair share nor ticket
     * order can explain its turn) gets the next hand-out. "Next" is exact here: both GPUs are held while the queue
     * builds, so every slot is taken (each worker runs one job and has one in its lookahead) and no decision can be
     * under way; the first hand-out recorded after the job's submission happens when the test lets one GPU finish, and
     * it must be the {@code high} job. Lookahead jobs assigned before it still start first (at most one per worker).
     * A key whose maximum priority is {@code normal} gets 403 {@code priority-not-allowed} for {@code high}.
     */
    @Test
    @Order(2)
    void aHighPriorityJobGetsTheNextHandOutAndAKeyWithoutTheRightIsRefused() {
        Http prio = http(trace.createKey("prio-high", 0));
        Http plain = http(trace.createKey("prio-plain", null));
        holdEveryCall();
        List<String> normal = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            normal.add(submit(prio, ScheduleTrace.job("normal " + i, STEPS, "normal", null)));
        }
        awaitGpusHeldWithFullSlots();

        Http.Answer refused = plain.post("/api/v1/jobs", ScheduleTrace.job("not mine to rush", STEPS, "high", null));
        String high = submit(prio, ScheduleTrace.job("urgent", STEPS, "high", null));
        long submitted = trace.submittedRowId(high);
        JsonNode shown = await().atMost(Duration.ofSeconds(20))
                .until(
                        () -> ScheduleTrace.view(prio, high),
                        v -> v.path("position").asInt() == 3);
        assertThat(trace.handOutsAfter(submitted))
                .as("no slot is free while the GPUs are held")
                .isEmpty();

        system.forgeOf(w1).admin().release();
        List<ScheduleTrace.HandOut> after =
                await().atMost(Duration.ofSeconds(30)).until(() -> trace.handOutsAfter(submitted), h -> !h.isEmpty());
        letTheGpusRun();
        List<String> all = new ArrayList<>(normal);
        all.add(high);
        trace.awaitFinished(all, FINISH);

        assertThat(refused.status())
                .as("high from a key allowed only normal: %s", refused)
                .isEqualTo(403);
        assertThat(refused.json().path("code").asString()).isEqualTo("priority-not-allowed");
        assertThat(ProblemCheck.violation(refused)).isNull();
        assertThat(shown.path("waiting").path("ahead").asInt())
                .as("only the two lookahead jobs start before it")
                .isEqualTo(2);
        assertThat(after.get(0).jobId())
                .as("the first hand-out after the high job's submission")
                .isEqualTo(high);
        assertThat(after.get(0).worker()).as("the GPU the test let finish").isEqualTo(w1.name());
        Map<String, ScheduleTrace.Run> runs = trace.runs(all);
        Set<String> handedOutLater = new HashSet<>();
        for (ScheduleTrace.HandOut h : trace.handOutsAfter(submitted)) {
            if (!h.jobId().equals(high)) {
                handedOutLater.add(h.jobId());
            }
        }
        assertThat(handedOutLater).as("16 normal jobs were still waiting").hasSize(16);
        Instant highStarted = runs.get(high).startedAt();
        assertThat(handedOutLater)
                .as("every normal job that waited with it started after it")
                .allMatch(id -> runs.get(id).startedAt().isAfter(highStarted));
        assertThat(runs.values()).allMatch(r -> r.status().equals("SUCCEEDED"));
        figure(
                "priority",
                String.format(
                        "high job handed out first after its submission (to %s); waited %.2f s "
                                + "behind %d normal jobs",
                        after.get(0).worker(), runs.get(high).waitSeconds(), normal.size()));
    }

    /**
     * A {@code low} job is not starved by a constant stream of {@code normal} jobs of another key (the test keeps
     * at least 8 of them waiting the whole time): normal jobs go first while it is young, and once it has waited
     * {@code low-priority-max-wait} it is promoted (a sweep every second) and, with its older fair-share tag, gets a
     * hand-out at once: at most two hand-outs after its age bound plus the sweep.
     */
    @Test
    @Order(3)
    void aLowPriorityJobStartsWithinItsAgeBoundUnderAConstantStreamOfNormalJobs() throws Exception {
        Http low = http(trace.createKey("low-key", null));
        Http stream = http(trace.createKey("stream-key", null));
        List<String> streamJobs = java.util.Collections.synchronizedList(new ArrayList<>());
        AtomicBoolean streaming = new AtomicBoolean(true);
        CompletableFuture<Void> feeder = CompletableFuture.runAsync(() -> {
            int n = 0;
            while (streaming.get()) {
                long waiting = system.sqlLong("select count(*) from job j join api_key k on k.id = j.owner_key_id "
                        + "where k.name = 'stream-key' and j.status = 'QUEUED' and j.assigned_worker is null");
                if (waiting < 8) {
                    streamJobs.add(submit(stream, ScheduleTrace.job("stream " + n++, STEPS, null, null)));
                } else {
                    AppProcess.sleep(20);
                }
            }
        });
        String lowJob;
        try {
            await().atMost(Duration.ofSeconds(60)).until(() -> trace.waitingForHandOut() >= 8);
            lowJob = submit(low, ScheduleTrace.job("patient", STEPS, "low", null));
            trace.awaitFinished(List.of(lowJob), Duration.ofSeconds(90));
        } finally {
            streaming.set(false);
            feeder.get();
        }
        trace.awaitFinished(streamJobs, FINISH);

        ScheduleTrace.Run run = trace.runs(List.of(lowJob)).get(lowJob);
        List<ScheduleTrace.HandOut> since = trace.handOutsAfter(trace.submittedRowId(lowJob));
        ScheduleTrace.HandOut own =
                since.stream().filter(h -> h.jobId().equals(lowJob)).findFirst().orElseThrow();
        Instant bound = run.createdAt().plus(LOW_MAX_WAIT).plus(PROMOTION_SWEEP);
        long beforeBound = since.stream()
                .filter(h ->
                        h.id() < own.id() && h.at().isBefore(run.createdAt().plus(LOW_MAX_WAIT)))
                .count();
        long afterBound = since.stream()
                .filter(h -> h.id() < own.id() && h.at().isAfter(bound))
                .count();
        Set<String> aheadOfStream = new HashSet<>();
        Set<String> fromStream = new HashSet<>(streamJobs);
        for (ScheduleTrace.HandOut h : since) {
            if (h.id() > own.id()
                    && fromStream.contains(h.jobId())
                    && trace.submittedRowId(h.jobId()) < own.id()
                    && trace.handOutsOf(h.jobId()).get(0).id() > own.id()) {
                aheadOfStream.add(h.jobId());
            }
        }
        figure(
                "low",
                String.format(
                        "low job handed out %.2f s after submission (bound %s + sweep), %d normal "
                                + "hand-outs while it was young, %d after its bound; started after %.2f s; passed %d waiting normal "
                                + "jobs",
                        Duration.between(run.createdAt(), own.at()).toMillis() / 1000.0,
                        LOW_MAX_WAIT,
                        beforeBound,
                        afterBound,
                        run.waitSeconds(),
                        aheadOfStream.size()));

        assertThat(run.status()).isEqualTo("SUCCEEDED");
        assertThat(beforeBound)
                .as("normal jobs went first while the low job was young")
                .isGreaterThanOrEqualTo(3);
        assertThat(afterBound)
                .as("hand-outs to others after its age bound (+ sweep) before its own")
                .isLessThanOrEqualTo(2);
        assertThat(aheadOfStream)
                .as("normal jobs that waited when it was handed out (the stream never ran dry)")
                .isNotEmpty();
    }

    /**
     * A client subscribed to its waiting job sees the scheduler's plan: its position only falls, except when a job
     * that the scheduler serves first arrives (a {@code high} job, then the first job of a key that has had no GPU
     * time: a fairer turn), and the job starts at the rank shown. The GPUs are held, and the test lets one finish at a
     * time; at every standstill it notes the position the client was last sent, and at the end checks that, from
     * each standstill after the last arrival on, position - 1 jobs started before the job (within one hand-out: a job
     * assigned to a GPU shows 1, "next", while another GPU's lookahead job may still start first).
     */
    @Test
    @Order(4)
    void positionsOnlyFallUnlessAHigherPriorityOrFairerJobArrivesAndTheJobStartsAtTheRankShown() {
        String aKey = trace.createKey("pos-a", null);
        Http a = http(aKey);
        Http urgent = http(trace.createKey("pos-high", 0));
        Http newcomer = http(trace.createKey("pos-new", null));
        holdEveryCall();
        List<String> jobs = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            jobs.add(submit(a, ScheduleTrace.job("backlog " + i, STEPS, null, null)));
        }
        awaitGpusHeldWithFullSlots();

        List<Standstill> standstills = new ArrayList<>();
        try (WsClient ws = system.ws(0, aKey)) {
            String watched = submit(a, ScheduleTrace.job("the one we watch", STEPS, null, null));
            jobs.add(watched);
            ws.subscribe(watched, null);
            standstills.add(awaitConverged(ws, a, watched, "submitted"));

            jobs.add(submit(urgent, ScheduleTrace.job("urgent", STEPS, "high", null)));
            standstills.add(awaitShownChange(ws, a, watched, standstills, "a high job arrived"));
            jobs.add(submit(newcomer, ScheduleTrace.job("newcomer", STEPS, null, null)));
            standstills.add(awaitShownChange(ws, a, watched, standstills, "a new key's job arrived"));

            int turn = 0;
            for (int round = 0;
                    round < 40
                            && !ScheduleTrace.view(a, watched)
                                    .path("status")
                                    .asString()
                                    .equals("RUNNING");
                    round++) {
                AppProcess gpu = turn++ % 2 == 0 ? w1 : w2;
                if (trace.assignedNotStartedOn(gpu.name()) == 0) {
                    continue; // finishing its job would start nothing
                }
                long started = startedCount();
                system.forgeOf(gpu).admin().release();
                await().atMost(Duration.ofSeconds(30)).until(() -> startedCount() > started);
                awaitSlotsSettled();
                if (ScheduleTrace.view(a, watched).path("status").asString().equals("QUEUED")) {
                    standstills.add(awaitConverged(ws, a, watched, "a GPU finished a job"));
                }
            }
            letTheGpusRun();
            trace.awaitFinished(jobs, FINISH);

            List<Integer> seen = positionsSeen(ws, watched);
            ScheduleTrace.Run run = trace.runs(List.of(watched)).get(watched);
            long startedBefore = system.sqlLong(
                    "select count(*) from job where started_at < ?", java.sql.Timestamp.from(run.startedAt()));
            figure(
                    "positions",
                    "positions sent " + seen + "; standstills "
                            + standstills.stream()
                                    .map(s -> s.shown() + "(" + (startedBefore - s.startedSoFar())
                                            + " started before it)")
                                    .toList());

            List<Integer> shown = standstills.stream().map(Standstill::shown).toList();
            assertThat(shown.get(1))
                    .as("a high job arrived: pushed back by one")
                    .isEqualTo(shown.get(0) + 1);
            assertThat(shown.get(2))
                    .as("a fairer job arrived: pushed back by one")
                    .isEqualTo(shown.get(1) + 1);
            List<Integer> afterArrivals = shown.subList(2, shown.size());
            assertThat(afterArrivals)
                    .as("with no arrival, positions only fall")
                    .isSortedAccordingTo(Comparator.reverseOrder());
            assertThat(afterArrivals.get(afterArrivals.size() - 1))
                    .as("it was next before it started")
                    .isEqualTo(1);
            assertThat(seen).as("every position sent, in order").startsWith(shown.get(0));
            assertThat(rises(seen))
                    .as("rises in %s: only the two arrivals", seen)
                    .isEqualTo(2);
            for (Standstill s : standstills.subList(2, standstills.size())) { // a position holds if nothing new arrives
                long startedMeanwhile = startedBefore - s.startedSoFar();
                assertThat(startedMeanwhile)
                        .as("jobs started before it after it was shown %d (%s)", s.shown(), s.after())
                        .isBetween((long) s.shown() - 2, (long) s.shown());
            }
        }
    }

    // ---------------------------------------------------------------------------------------------- helpers

    private Http http(String key) {
        return system.http(0, key);
    }

    private void awaitAvailableWorkers(int n) {
        Http any = system.http(0, ForgeQueueSystem.ALICE_KEY);
        await().atMost(Duration.ofSeconds(60))
                .pollInterval(Duration.ofMillis(200))
                .until(() ->
                        any.get("/api/v1/queue").json().path("availableWorkers").asInt() == n);
    }

    /** Every call on both GPUs stops at its first step until the test releases it. */
    private void holdEveryCall() {
        for (AppProcess w : List.of(w1, w2)) {
            system.forgeOf(w).admin().holdNext(1000, 1);
        }
    }

    /** Both GPUs run a held job and each worker has one more assigned (its lookahead): no slot is free. */
    private void awaitGpusHeldWithFullSlots() {
        await().atMost(Duration.ofSeconds(60))
                .pollInterval(Duration.ofMillis(100))
                .until(() -> {
                    for (AppProcess w : List.of(w1, w2)) {
                        ForgeSimProcess sim = system.forgeOf(w);
                        if (sim.admin().state().heldNow() != 1
                                || trace.heldBy(w.name()) != 2
                                || trace.assignedNotStartedOn(w.name()) != 1) {
                            return false;
                        }
                    }
                    return true;
                });
    }

    /**
     * After a GPU finished a job: its worker runs the next one (held again) and the free slot was filled, unless no
     * job waits any more.
     */
    private void awaitSlotsSettled() {
        await().atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(100))
                .until(() -> {
                    boolean waiting = trace.waitingForHandOut() > 0;
                    for (AppProcess w : List.of(w1, w2)) {
                        long held = trace.heldBy(w.name());
                        if (system.forgeOf(w).admin().state().heldNow() != (held > 0 ? 1 : 0)) {
                            return false;
                        }
                        if (waiting && held != 2) {
                            return false;
                        }
                    }
                    return true;
                });
    }

    private long startedCount() {
        return system.sqlLong("select count(*) from job where started_at is not null");
    }

    /** The position the client was last sent for the job (snapshot or position frame), or null. */
    private static Integer lastShown(WsClient ws, String jobId) {
        Integer last = null;
        for (JsonNode f : ws.framesFor(jobId)) {
            String type = f.path("type").asString("");
            if (type.equals("position")) {
                last = f.path("position").asInt();
            } else if (type.equals("snapshot") && f.path("job").hasNonNull("position")) {
                last = f.path("job").path("position").asInt();
            }
        }
        return last;
    }

    /** Every position the client was sent, consecutive repeats dropped. */
    private static List<Integer> positionsSeen(WsClient ws, String jobId) {
        List<Integer> seen = new ArrayList<>();
        for (JsonNode f : ws.framesFor(jobId)) {
            String type = f.path("type").asString("");
            Integer p = type.equals("position")
                    ? Integer.valueOf(f.path("position").asInt())
                    : type.equals("snapshot") && f.path("job").hasNonNull("position")
                            ? Integer.valueOf(f.path("job").path("position").asInt())
                            : null;
            if (p != null && (seen.isEmpty() || !seen.get(seen.size() - 1).equals(p))) {
                seen.add(p);
            }
        }
        return seen;
    }

    private static int rises(List<Integer> positions) {
        int rises = 0;
        for (int i = 1; i < positions.size(); i++) {
            if (positions.get(i) > positions.get(i - 1)) {
                rises++;
            }
        }
        return rises;
    }

    /** A moment when nothing moves: the position the client was last sent, and how many jobs had started. */
    private record Standstill(int shown, long startedSoFar, String after) {}

    /** Waits until the client was sent the position the REST API shows, and notes the standstill. */
    private Standstill awaitConverged(WsClient ws, Http http, String jobId, String after) {
        Integer shown = await("the client is sent the job's position (" + after + ")")
                .atMost(Duration.ofSeconds(20))
                .pollInterval(Duration.ofMillis(50))
                .until(
                        () -> {
                            Integer last = lastShown(ws, jobId);
                            JsonNode view = ScheduleTrace.view(http, jobId);
                            return last != null
                                            && view.hasNonNull("position")
                                            && last == view.path("position").asInt()
                                    ? last
                                    : null;
                        },
                        java.util.Objects::nonNull);
        return new Standstill(shown, startedCount(), after);
    }

    /** Waits until the job's position changed from the last standstill's, then until the client was sent it. */
    private Standstill awaitShownChange(WsClient ws, Http http, String jobId, List<Standstill> before, String after) {
        int previous = before.get(before.size() - 1).shown();
        await("the position changes after " + after)
                .atMost(Duration.ofSeconds(20))
                .pollInterval(Duration.ofMillis(50))
                .until(() -> ScheduleTrace.view(http, jobId).path("position").asInt() != previous);
        return awaitConverged(ws, http, jobId, after);
    }
}
