package io.forgequeue.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.rabbitmq.client.GetResponse;
import io.forgequeue.gateway.quota.Priority;
import io.forgequeue.model.CancelJobCommand;
import io.forgequeue.model.WorkerState;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * The scheduler against the real broker and database (docs/scheduling.md): the order it hands jobs out in (fair
 * share between keys, weights, priority classes, the promotion of waiting low-priority jobs), the quotas, the slots
 * of a worker, and what it takes back from workers that pause, fall silent, restart, lose a message or share a
 * Forge, with the fencing of what such workers still report. The leader's lease: {@link SchedulerLeaseIT}.
 *
 * <p>Hand-outs are read from the job history (one {@code assigned} row per hand-out, in commit order), so the
 * order does not depend on the order in which job messages reach a worker.
 */
class SchedulerIT extends IntegrationTestBase {

    private static final Duration PRESENCE_TIMEOUT = Duration.ofMillis(2500);

    private List<UUID> submit(String key, String pool, int count, String label) {
        List<UUID> ids = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            Api.Response r = api().submit(key, Api.job(pool, label + " " + i));
            assertThat(r.status()).as(r.text()).isEqualTo(202);
            ids.add(r.id());
        }
        return ids;
    }

    private UUID submit(String key, String pool, String label, String priority) {
        Api.Response r = api().submit(key, Api.job(pool, label, "\"priority\":\"" + priority + "\""));
        assertThat(r.status()).as(r.text()).isEqualTo(202);
        return r.id();
    }

    /** Waits for at least {@code count} hand-outs in {@code pool}; returns them all, in order. */
    private List<UUID> awaitHandOuts(String pool, int count) {
        return await().atMost(Duration.ofSeconds(20)).until(() -> handOuts(pool), h -> h.size() >= count);
    }

    private String owners(List<UUID> jobs, Set<UUID> a, String aName, String bName) {
        StringBuilder out = new StringBuilder();
        jobs.forEach(id -> out.append(a.contains(id) ? aName : bName));
        return out.toString();
    }

    private long heldBy(String workerId) {
        return jdbc.queryForObject("select count(*) from job where assigned_worker = ?", Long.class, workerId);
    }

    private long assignedOf(List<UUID> jobs) {
        return jobs.stream().filter(id -> assignedWorker(id) != null).count();
    }

    /** Waits until the counter with this reason reaches {@code value} (it is counted just after the commit). */
    private void awaitCounter(String name, String reason, double value) {
        await().atMost(Duration.ofSeconds(5))
                .untilAsserted(() -> assertThat(counter(name, "reason", reason))
                        .as("%s{reason=%s}", name, reason)
                        .isEqualTo(value));
    }

    private int priorityLevel(UUID id) {
        return jdbc.queryForObject("select priority from job where id = ?", Integer.class, id);
    }

    // ---------------------------------------------------------------------------------------------- order

    @Test
    void aSecondKeysJobsAreHandedOutInterleavedWithTheBacklogOfTheFirst() {
        String pool = newPool();
        String a = newKey();
        String b = newKey();
        TestWorker gpu = worker(pool);
        Set<UUID> aJobs = new HashSet<>(submit(a, pool, 10, "backlog"));
        JobAttempt current = gpu.next();
        int before = awaitHandOuts(pool, 2).size();

        List<UUID> bJobs = submit(b, pool, 3, "late comer");
        awaitQueued(pool, 13);
        for (int i = 0; i < 6; i++) {
            current.succeed();
            current = gpu.next();
        }

        List<UUID> next = awaitHandOuts(pool, before + 6).subList(before, before + 6);
        assertThat(before).as("the worker's running job and its lookahead").isEqualTo(2);
        assertThat(next).as("B's 3 jobs within the next 2 x 3 hand-outs").containsAll(bJobs);
        assertThat(owners(next, aJobs, "A", "B"))
                .as("equal keys with backlogs alternate")
                .isEqualTo("BABABA");
        assertThat(next.stream().filter(bJobs::contains).toList())
                .as("FIFO within a key")
                .isEqualTo(bJobs);
    }

    @Test
    void aKeyWithTwiceTheWeightGetsTwiceTheHandOuts() {
        String pool = newPool();
        String heavy = newKey(TestKeys.Limits.defaults().weight(2.0));
        String light = newKey();
        Set<UUID> heavyJobs = new HashSet<>(submit(heavy, pool, 8, "heavy"));
        submit(light, pool, 4, "light");
        awaitQueued(pool, 12);

        aWorker(pool).autoRun().start();

        List<UUID> order = awaitHandOuts(pool, 12);
        assertThat(owners(order, heavyJobs, "H", "L")).isEqualTo("HLHHLHHLHHLH");
    }

    @Test
    void aHighPriorityJobIsHandedOutBeforeNormalJobsSubmittedEarlierAndPushesThemBack() {
        String pool = newPool();
        String normal = newKey();
        String urgent = newKey(TestKeys.Limits.defaults().maxPriority(Priority.HIGH));
        List<UUID> normals = submit(normal, pool, 5, "normal");
        UUID high = submit(urgent, pool, "urgent", "high");
        awaitQueued(pool, 6);

        JsonNode highView = api().get(urgent, "/api/v1/jobs/" + high).json();
        JsonNode firstNormal =
                api().get(normal, "/api/v1/jobs/" + normals.get(0)).json();
        assertThat(highView.get("priority").asString()).isEqualTo("high");
        assertThat(highView.get("position").asInt())
                .as("first in the scheduler's plan")
                .isEqualTo(1);
        assertThat(firstNormal.get("position").asInt())
                .as("pushed back by the high one")
                .isEqualTo(2);
        assertThat(firstNormal.get("waiting").get("ownAhead").asInt()).isZero();

        JobAttempt first = worker(pool).next();

        assertThat(first.jobId()).isEqualTo(high);
        assertThat(awaitHandOuts(pool, 2)).containsExactly(high, normals.get(0));
    }

    @Test
    void aKeyWithoutTheRightIsRefusedHighPriorityWith403ButMayAskForLow() {
        String key = newKey();
        String pool = newPool();

        Api.Response refused = api().submit(key, Api.job(pool, "me first", "\"priority\":\"high\""));
        Api.Response low = api().submit(key, Api.job(pool, "no hurry", "\"priority\":\"low\""));
        Api.Response unknown = api().submit(key, Api.job(pool, "what", "\"priority\":\"urgent\""));

        assertThat(refused.status()).isEqualTo(403);
        assertThat(refused.header("Content-Type")).startsWith("application/problem+json");
        JsonNode problem = refused.json();
        assertThat(problem.get("code").asString()).isEqualTo("priority-not-allowed");
        assertThat(problem.get("type").asString()).endsWith("/problems/priority-not-allowed");
        assertThat(problem.get("maxPriority").asString()).isEqualTo("normal");
        assertThat(problem.get("errors").get(0).get("field").asString()).isEqualTo("priority");
        assertThat(low.status()).isEqualTo(202);
        assertThat(low.json().get("priority").asString()).isEqualTo("low");
        assertThat(unknown.status()).isEqualTo(400);
        assertThat(jdbc.queryForObject("select count(*) from job where pool = ?", Long.class, pool))
                .as("only the low one")
                .isEqualTo(1L);
    }

    @Test
    void aLowJobWaitsBehindNormalOnesUntilItWaitedTheMaxWaitThenGoesBeforeLaterNormalOnes() {
        String pool = newPool();
        String filler = newKey();
        String patient = newKey();
        String busy = newKey();
        TestWorker gpu = worker(pool);
        submit(filler, pool, 2, "filler");
        JobAttempt running = gpu.next();
        awaitHandOuts(pool, 2);
        UUID low = submit(patient, pool, "low", "low");
        UUID normalBefore = submit(busy, pool, "normal before", "normal");
        awaitQueued(pool, 4);

        running.succeed();
        running = gpu.next();

        assertThat(awaitHandOuts(pool, 3).get(2)).as("normal before low").isEqualTo(normalBefore);
        assertThat(priorityLevel(low)).as("not promoted yet").isEqualTo(Priority.LOW.level());

        await().atMost(Duration.ofSeconds(30)).until(() -> priorityLevel(low) == Priority.NORMAL.level());
        assertThat(jdbc.queryForObject(
                        "select extract(epoch from now() - created_at) from job where id = ?", Double.class, low))
                .as("promoted after gateway.scheduler.low-priority-max-wait (8 s)")
                .isGreaterThanOrEqualTo(8.0);
        UUID normalAfter = submit(busy, pool, "normal after", "normal");
        awaitQueued(pool, 4);
        running.succeed();

        assertThat(awaitHandOuts(pool, 4).get(3))
                .as("the promoted low job before the later normal one")
                .isEqualTo(low);
        assertThat(api().get(patient, "/api/v1/jobs/" + low)
                        .json()
                        .get("priority")
                        .asString())
                .as("it still shows what its owner asked for")
                .isEqualTo("low");
        assertThat(assignedWorker(normalAfter)).isNull();
    }

    // ---------------------------------------------------------------------------------------------- quotas

    @Test
    void aKeyNeverHoldsMoreGpuSlotsThanItsMaxRunningEvenWithSlotsFree() {
        String pool = newPool();
        String capped = newKey(TestKeys.Limits.defaults().maxRunning(1));
        String other = newKey();
        TestWorker one = worker(pool);
        TestWorker two = worker(pool);
        awaitAvailableWorkers(pool, 2);
        List<UUID> cappedJobs = submit(capped, pool, 3, "capped");
        List<UUID> otherJobs = submit(other, pool, 2, "other");

        await().atMost(Duration.ofSeconds(10)).until(() -> assignedOf(otherJobs) == 2 && assignedOf(cappedJobs) == 1);
        await().during(Duration.ofSeconds(1))
                .atMost(Duration.ofSeconds(5))
                .until(() -> assignedOf(cappedJobs) == 1 && heldBy(one.id()) + heldBy(two.id()) == 3);
        one.runEverything();
        two.runEverything();

        for (UUID id : cappedJobs) {
            await().atMost(Duration.ofSeconds(20))
                    .until(() -> "SUCCEEDED".equals(assignment(id).get("status")));
        }
        // each of the capped key's jobs was handed out only after the one before it had ended
        List<Map<String, Object>> spans = jdbc.queryForList(
                """
                select j.id, (select min(recorded_at) from job_state_history h
                              where h.job_id = j.id and h.reason = 'assigned') as assigned_at,
                       (select max(recorded_at) from job_state_history h
                        where h.job_id = j.id and h.to_status = 'SUCCEEDED') as ended_at
                from job j where j.id = any(?::uuid[]) order by assigned_at""",
                "{" + String.join(",", cappedJobs.stream().map(UUID::toString).toList()) + "}");
        for (int i = 1; i < spans.size(); i++) {
            assertThat((java.sql.Timestamp) spans.get(i).get("assigned_at"))
                    .as("hand-out %d of the capped key after the end of the one before", i + 1)
                    .isAfterOrEqualTo((java.sql.Timestamp) spans.get(i - 1).get("ended_at"));
        }
    }

    @Test
    void aKeyOverItsMaxQueuedIsRefusedWith429AndRetryAfterUntilItsJobsStart() {
        String pool = newPool();
        String key = newKey(TestKeys.Limits.defaults().maxQueued(2));
        submit(key, pool, 2, "allowed");

        Api.Response refused = api().submit(key, Api.job(pool, "one too many"));

        assertThat(refused.status()).isEqualTo(429);
        assertThat(refused.header("Retry-After")).isEqualTo("10");
        JsonNode problem = refused.json();
        assertThat(problem.get("code").asString()).isEqualTo("too-many-jobs-in-flight");
        assertThat(problem.get("limit").asInt()).isEqualTo(2);
        assertThat(problem.get("inFlight").asInt()).isEqualTo(2);
        assertThat(api().submit(newKey(), Api.job(pool, "another key")).status())
                .as("the cap is per key")
                .isEqualTo(202);

        aWorker(pool).autoRun().start();
        await().atMost(Duration.ofSeconds(20))
                .until(() -> jdbc.queryForObject(
                                "select count(*) from job where pool = ? and status = 'SUCCEEDED'", Long.class, pool)
                        == 3);
        assertThat(api().submit(key, Api.job(pool, "room again")).status()).isEqualTo(202);
    }

    // ---------------------------------------------------------------------------------------------- slots

    @Test
    void aWorkerHoldsAtMostItsRunningJobPlusOneOfLookahead() {
        String pool = newPool();
        String key = newKey();
        TestWorker gpu = worker(pool);
        List<UUID> jobs = submit(key, pool, 5, "many");

        JobAttempt first = gpu.next();
        await().atMost(Duration.ofSeconds(10)).until(() -> heldBy(gpu.id()) == 2);
        await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(5)).until(() -> heldBy(gpu.id()) == 2);
        assertThat(gpu.received())
                .as("prefetch 1: the lookahead waits in its queue")
                .hasSize(1);
        assertThat(handOuts(pool)).containsExactly(jobs.get(0), jobs.get(1));
        first.publish(first.running());
        await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(5)).until(() -> heldBy(gpu.id()) == 2);

        first.publish(first.succeeded(1));

        JobAttempt second = gpu.next();
        assertThat(second.jobId()).isEqualTo(jobs.get(1));
        await().atMost(Duration.ofSeconds(10)).until(() -> handOuts(pool).size() == 3);
        await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(5)).until(() -> heldBy(gpu.id()) == 2);
        assertThat(handOuts(pool)).containsExactly(jobs.get(0), jobs.get(1), jobs.get(2));
    }

    // Issue 16: one round gave a worker all its free slots before the next worker got any, so two jobs taken back
    // from a lost worker both went to one idle worker (one waiting in its lookahead) while another stayed idle.
    @Test
    void theJobsOfALostWorkerSpreadOverTheIdleWorkersBeforeAnyLookaheadFills() {
        String pool = newPool();
        String key = newKey();
        TestWorker lost = worker(pool);
        List<UUID> jobs = submit(key, pool, 2, "spread");
        JobAttempt running = lost.next();
        running.publish(running.running());
        await().atMost(Duration.ofSeconds(10)).until(() -> heldBy(lost.id()) == 2);
        TestWorker one = worker(pool);
        TestWorker two = worker(pool);
        awaitAvailableWorkers(pool, 3);

        lost.stopAnnouncing();

        JobAttempt onOne = one.next();
        JobAttempt onTwo = two.next();
        assertThat(List.of(onOne.jobId(), onTwo.jobId())).containsExactlyInAnyOrderElementsOf(jobs);
        assertThat(heldBy(one.id())).isEqualTo(1);
        assertThat(heldBy(two.id())).isEqualTo(1);
    }

    // ---------------------------------------------------------------------------------------------- take-backs

    @Test
    void aPausedWorkerGetsNothingAndItsAssignmentNotStartedIsTakenBackAndHandedOutAgainWhenItResumes() {
        String pool = newPool();
        String key = newKey();
        TestWorker gpu = worker(pool);
        List<UUID> jobs = submit(key, pool, 2, "before the pause");
        JobAttempt running = gpu.next();
        running.publish(running.running());
        await().atMost(Duration.ofSeconds(10))
                .until(() -> gpu.id().equals(assignedWorker(jobs.get(1)))
                        && "RUNNING".equals(assignment(jobs.get(0)).get("status")));
        double pausedBefore = counter("gpu.gateway.scheduler.revocations", "reason", "paused");

        gpu.pause();

        await().atMost(Duration.ofSeconds(10)).until(() -> assignedWorker(jobs.get(1)) == null);
        assertThat(history(jobs.get(1)))
                .contains(
                        "QUEUED>QUEUED#1@" + gpu.id() + ": worker " + gpu.id() + " paused (its Forge is unavailable)");
        assertThat(assignment(jobs.get(0)))
                .as("its running job stays (the worker gives it back itself)")
                .containsEntry("status", "RUNNING")
                .containsEntry("assigned_worker", gpu.id());
        awaitCounter("gpu.gateway.scheduler.revocations", "paused", pausedBefore + 1);
        UUID later = submit(key, pool, 1, "during the pause").get(0);
        await().during(Duration.ofSeconds(1))
                .atMost(Duration.ofSeconds(5))
                .until(() -> assignedWorker(jobs.get(1)) == null && assignedWorker(later) == null);
        assertThat(api().get(key, "/api/v1/jobs/" + later)
                        .json()
                        .get("waiting")
                        .get("blocked")
                        .asString())
                .contains("No GPU is available");

        gpu.resume();

        await().atMost(Duration.ofSeconds(10)).until(() -> gpu.id().equals(assignedWorker(jobs.get(1))));
        running.succeed();
        JobAttempt again = gpu.next();
        assertThat(again.jobId()).as("its old message was purged on resume").isEqualTo(jobs.get(1));
        assertThat(again.attempt()).isEqualTo(2);
    }

    @Test
    void aWorkerThatFallsSilentHasAllItsJobsTakenBackItsLateEventsIgnoredAndIsToldToStopWhatItStillRuns() {
        String pool = newPool();
        String key = newKey();
        TestWorker silent = worker(pool);
        List<UUID> jobs = submit(key, pool, 2, "on a worker that dies");
        JobAttempt running = silent.next();
        running.publish(running.running(), running.progress(40));
        await().atMost(Duration.ofSeconds(10))
                .until(() -> silent.id().equals(assignedWorker(jobs.get(1)))
                        && "RUNNING".equals(assignment(jobs.get(0)).get("status")));
        double lostBefore = counter("gpu.gateway.scheduler.revocations", "reason", "lost");
        String tap = BROKER.controlTap();

        long silentSince = System.nanoTime();
        silent.stopAnnouncing();

        await().atMost(PRESENCE_TIMEOUT.plusSeconds(5))
                .until(() -> assignedWorker(jobs.get(0)) == null && assignedWorker(jobs.get(1)) == null);
        Duration takenBackAfter = Duration.ofNanos(System.nanoTime() - silentSince);
        assertThat(takenBackAfter)
                .as("within the presence timeout and a bit")
                .isBetween(PRESENCE_TIMEOUT.minusMillis(300), PRESENCE_TIMEOUT.plusSeconds(3));
        assertThat(assignment(jobs.get(0))).containsEntry("status", "QUEUED").containsEntry("attempt", 1);
        assertThat(history(jobs.get(0)))
                .anyMatch(h -> h.startsWith(
                        "RUNNING>QUEUED#1@" + silent.id() + ": worker " + silent.id() + " lost (no announcement for"));
        assertThat(history(jobs.get(1)))
                .anyMatch(h -> h.startsWith("QUEUED>QUEUED#1@" + silent.id() + ": worker " + silent.id() + " lost"));
        awaitCounter("gpu.gateway.scheduler.revocations", "lost", lostBefore + 2);
        assertThat(api().get(key, "/api/v1/jobs/" + jobs.get(0))
                        .json()
                        .get("progress")
                        .asInt())
                .isZero();
        // each assignment taken back is told to stop at once, that attempt on that worker only
        List<CancelJobCommand> stops = new ArrayList<>();
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            CancelJobCommand c = nextCommand(tap);
            if (c != null) {
                stops.add(c);
            }
            return stops.stream().map(CancelJobCommand::jobId).toList().containsAll(jobs);
        });
        assertThat(stops).allSatisfy(c -> {
            assertThat(c.attempt()).isEqualTo(1);
            assertThat(c.workerId()).isEqualTo(silent.id());
        });

        // what it reports now changes nothing; starting the attempt again gets it a stop for that attempt only
        double revokedBefore = counter("gpu.gateway.events.rejected", "reason", "revoked");
        running.publish(running.progress(90), running.succeeded(1));
        await().atMost(Duration.ofSeconds(10))
                .until(() -> counter("gpu.gateway.events.rejected", "reason", "revoked") >= revokedBefore + 2);
        assertThat(assignment(jobs.get(0))).containsEntry("status", "QUEUED");
        running.publish(running.running());
        CancelJobCommand stop = await().atMost(Duration.ofSeconds(10))
                .until(() -> nextCommand(tap), c -> c != null && c.jobId().equals(jobs.get(0)));
        assertThat(stop.jobId()).isEqualTo(jobs.get(0));
        assertThat(stop.attempt()).isEqualTo(1);
        assertThat(stop.workerId()).isEqualTo(silent.id());

        // both run elsewhere, as new assignments
        TestWorker other = worker(pool);
        List<JobAttempt> elsewhere = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            JobAttempt attempt = other.next();
            elsewhere.add(attempt);
            attempt.succeed();
        }
        assertThat(elsewhere).extracting(JobAttempt::jobId).containsExactlyInAnyOrderElementsOf(jobs);
        assertThat(elsewhere).extracting(JobAttempt::attempt).containsOnly(2);

        // the silent worker wakes up holding the message of its other taken-back assignment: told to stop that one
        silent.resumeAnnouncing();
        CancelJobCommand late = await().atMost(Duration.ofSeconds(15))
                .until(() -> nextCommand(tap), c -> c != null && c.jobId().equals(jobs.get(1)));
        assertThat(late.attempt()).isEqualTo(1);
        assertThat(late.workerId()).isEqualTo(silent.id());
        for (UUID id : jobs) {
            await().atMost(Duration.ofSeconds(10))
                    .until(() -> "SUCCEEDED".equals(assignment(id).get("status")));
            assertThat(assignment(id)).containsEntry("attempt", 2).containsEntry("worker_id", other.id());
        }
    }

    private static CancelJobCommand nextCommand(String tap) {
        GetResponse m = BROKER.take(tap);
        return m == null ? null : JobAttempt.WIRE.readValue(m.getBody(), CancelJobCommand.class);
    }

    @Test
    void aRestartedWorkerHasWhatItsOldInstanceHeldTakenBackAndHandedOutAgain() {
        String pool = newPool();
        String key = newKey();
        TestWorker gpu = worker(pool);
        List<UUID> jobs = submit(key, pool, 2, "before the restart");
        JobAttempt old = gpu.next();
        old.publish(old.running());
        await().atMost(Duration.ofSeconds(10))
                .until(() -> heldBy(gpu.id()) == 2
                        && "RUNNING".equals(assignment(jobs.get(0)).get("status")));
        double restartedBefore = counter("gpu.gateway.scheduler.revocations", "reason", "restarted");

        gpu.restart();

        JobAttempt first = gpu.next();
        assertThat(first.attempt()).as("a new assignment").isEqualTo(2);
        assertThat(history(jobs.get(0)))
                .contains("RUNNING>QUEUED#1@" + gpu.id() + ": assigned before worker " + gpu.id() + " restarted");
        assertThat(history(jobs.get(1)))
                .contains("QUEUED>QUEUED#1@" + gpu.id() + ": assigned before worker " + gpu.id() + " restarted");
        awaitCounter("gpu.gateway.scheduler.revocations", "restarted", restartedBefore + 2);
        double staleBefore = counter("gpu.gateway.events.rejected", "reason", "stale-attempt");
        old.publish(old.succeeded(1));
        await().atMost(Duration.ofSeconds(10))
                .until(() -> counter("gpu.gateway.events.rejected", "reason", "stale-attempt") > staleBefore);
        assertThat(assignment(jobs.get(0)))
                .as("the old instance's outcome changes nothing")
                .containsEntry("status", "QUEUED")
                .containsEntry("attempt", 2);
        first.succeed();
        JobAttempt second = gpu.next();
        assertThat(second.attempt()).isEqualTo(2);
        assertThat(List.of(first.jobId(), second.jobId())).containsExactlyInAnyOrderElementsOf(jobs);
    }

    @Test
    void anAssignmentWhoseMessageNeverArrivedIsTakenBackAfterTheWorkerReportedIdleTwiceAndHandedOutAgain() {
        String pool = newPool();
        String key = newKey();
        TestWorker gpu = worker(pool);
        gpu.dropNext(1);
        double lostMessagesBefore = counter("gpu.gateway.scheduler.revocations", "reason", "lost-message");

        UUID id = submit(key, pool, 1, "lost on the way").get(0);

        JobAttempt again = gpu.next();
        assertThat(gpu.dropped()).extracting(m -> m.jobId() + "#" + m.attempt()).containsExactly(id + "#1");
        assertThat(again.jobId()).isEqualTo(id);
        assertThat(again.attempt()).isEqualTo(2);
        assertThat(history(id)).contains("QUEUED>QUEUED#1@" + gpu.id() + ": worker " + gpu.id() + " never received it");
        awaitCounter("gpu.gateway.scheduler.revocations", "lost-message", lostMessagesBefore + 1);
        again.succeed();
        await().atMost(Duration.ofSeconds(10))
                .until(() -> "SUCCEEDED".equals(assignment(id).get("status")));
    }

    // ---------------------------------------------------------------------------------------------- placement

    @Test
    void aCheckpointOrSamplerAWorkersForgeDoesNotOfferIsNeverHandedToIt() {
        String pool = newPool();
        String key = newKey();
        TestWorker narrow =
                aWorker(pool).offer(null, List.of("cp-a"), List.of("Euler a")).start();
        awaitAvailableWorkers(pool, 1);
        UUID otherCheckpoint = api().submit(key, Api.job(pool, "needs cp-b", "\"checkpoint\":\"cp-b\""))
                .id();
        UUID otherSampler = api().submit(key, Api.job(pool, "needs another sampler", "\"sampler\":\"DPM++ 2M\""))
                .id();
        UUID offered = api().submit(key, Api.job(pool, "fits", "\"checkpoint\":\"cp-a\""))
                .id();

        assertThat(narrow.next().jobId()).isEqualTo(offered);
        await().during(Duration.ofSeconds(1))
                .atMost(Duration.ofSeconds(5))
                .until(() -> assignedWorker(otherCheckpoint) == null
                        && assignedWorker(otherSampler) == null
                        && heldBy(narrow.id()) == 1);
        assertThat(api().get(key, "/api/v1/jobs/" + otherCheckpoint)
                        .json()
                        .get("waiting")
                        .get("blocked")
                        .asString())
                .contains("No GPU offers checkpoint cp-b");

        TestWorker wide =
                aWorker(pool).offer(null, List.of("cp-a", "cp-b"), List.of()).start();

        await().atMost(Duration.ofSeconds(10))
                .until(() -> wide.id().equals(assignedWorker(otherCheckpoint))
                        && wide.id().equals(assignedWorker(otherSampler)));
        assertThat(heldBy(narrow.id())).isEqualTo(1);
    }

    @Test
    void ofTwoWorkersDrivingTheSameForgeTheLaterGetsNothingUntilTheFirstIsGone() {
        String pool = newPool();
        String key = newKey();
        String forge = "http://forge-" + UUID.randomUUID().toString().substring(0, 6) + ":7860";
        TestWorker first = aWorker(pool).offer(forge, List.of(), List.of()).start();
        awaitAvailableWorkers(pool, 1);
        TestWorker second = aWorker(pool).offer(forge, List.of(), List.of()).start();
        await().atMost(Duration.ofSeconds(10))
                .until(() -> fleet.get(second.id())
                        .map(w -> w.refusedBecause() != null && w.state() == WorkerState.READY)
                        .orElse(false));
        assertThat(fleet.get(second.id()).orElseThrow().refusedBecause()).contains(forge, first.id());

        List<UUID> jobs = submit(key, pool, 3, "one forge");

        await().atMost(Duration.ofSeconds(10)).until(() -> heldBy(first.id()) == 2);
        await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(5)).until(() -> heldBy(second.id()) == 0);
        assertThat(fleet.available(pool)).extracting(w -> w.id()).containsExactly(first.id());

        first.goodbye();

        await().atMost(Duration.ofSeconds(10)).until(() -> heldBy(second.id()) == 2);
        assertThat(second.next().attempt())
                .as("taken back from the first (gone) and handed out again")
                .isEqualTo(2);
        assertThat(heldBy(first.id())).isZero();
        assertThat(jobs.stream().filter(id -> assignedWorker(id) == null).count())
                .isEqualTo(1);
    }
}
