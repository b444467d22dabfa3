package io.forgequeue.gateway.queue;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.forgequeue.gateway.schedule.SchedulerPolicy;
import io.forgequeue.model.JobStatus;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The in-memory queue every gateway keeps: order, standings, group heads, held slots, versions. */
class QueueIndexTest {

    private static final String POOL = "default";
    private static final UUID ALICE = UUID.fromString("00000000-0000-0000-0000-00000000000a");
    private static final UUID BOB = UUID.fromString("00000000-0000-0000-0000-00000000000b");

    private final AtomicLong nanos = new AtomicLong(1_000);
    private final QueueIndex index = new QueueIndex(SchedulerPolicy.FAIR.order(), nanos::get);

    /** A job's state, built up in the test (defaults: waiting, normal, owner Alice, tag = ticket, version 1). */
    private static final class Job {
        UUID id = UUID.randomUUID();
        long version = 1;
        JobStatus status = JobStatus.QUEUED;
        String pool = POOL;
        UUID owner = ALICE;
        int priority = 1;
        double tag;
        long ticket;
        String checkpoint;
        String sampler;
        String worker;
        int attempt;

        Job(long ticket) {
            this.ticket = ticket;
            this.tag = ticket;
        }

        Job owner(UUID o) {
            owner = o;
            return this;
        }

        Job priority(int p) {
            priority = p;
            return this;
        }

        Job tag(double t) {
            tag = t;
            return this;
        }

        Job pool(String p) {
            pool = p;
            return this;
        }

        Job checkpoint(String c) {
            checkpoint = c;
            return this;
        }

        /** The next version: assigned to {@code w} as a new attempt. */
        Job assignedTo(String w) {
            version++;
            worker = w;
            attempt++;
            return this;
        }

        /** The next version: RUNNING on its worker. */
        Job running() {
            version++;
            status = JobStatus.RUNNING;
            return this;
        }

        /** The next version: back in the queue, unassigned. */
        Job givenBack() {
            version++;
            status = JobStatus.QUEUED;
            worker = null;
            return this;
        }

        /** The next version: finished. */
        Job succeeded() {
            version++;
            status = JobStatus.SUCCEEDED;
            worker = null;
            return this;
        }

        Job version(long v) {
            version = v;
            return this;
        }

        JobState state() {
            return new JobState(
                    id,
                    version,
                    status,
                    pool,
                    owner,
                    priority,
                    tag,
                    ticket,
                    checkpoint,
                    sampler,
                    1.0,
                    0,
                    worker,
                    attempt,
                    0,
                    0);
        }
    }

    private Job waiting(long ticket) {
        return add(new Job(ticket));
    }

    private Job add(Job job) {
        index.apply(job.state());
        return job;
    }

    private int position(Job job) {
        return index.standing(job.id).position();
    }

    @Test
    void waitingJobsStandInPriorityThenFairTagThenTicketOrder() {
        Job late = add(new Job(1).tag(5));
        Job fair = add(new Job(2).tag(1));
        Job tie = add(new Job(3).tag(1));
        Job high = add(new Job(4).priority(0).tag(9));
        Job low = add(new Job(5).priority(2).tag(0));

        assertThat(List.of(position(high), position(fair), position(tie), position(late), position(low)))
                .containsExactly(1, 2, 3, 4, 5);
        assertThat(index.pick(POOL, s -> true).id()).isEqualTo(high.id);
        assertThat(index.standing(low.id).ahead()).isEqualTo(4);
    }

    @Test
    void withLanesAStandingCountsTheWaitingJobsOfItsOwnCheckpointAheadOfIt() {
        QueueIndex lanes = new QueueIndex(SchedulerPolicy.FAIR.order(), true, true, nanos::get);
        Job a1 = new Job(1).checkpoint("sdxl/ckptA.safetensors [a1b2c3d4e5]");
        Job b1 = new Job(2).checkpoint("ckptB");
        Job a2 = new Job(3).checkpoint("sdxl_ckptA"); // another name of the same checkpoint
        Job a3 = new Job(4).checkpoint("sdxl/ckptA.safetensors");
        Job any = new Job(5);
        for (Job j : List.of(a1, b1, a2, a3, any)) {
            lanes.apply(j.state());
        }

        assertThat(lanes.standing(a1.id).laneAhead())
                .as("nothing waits before it")
                .isNull();
        assertThat(lanes.standing(b1.id).laneAhead())
                .as("only another checkpoint before it")
                .isZero();
        assertThat(lanes.standing(a2.id).laneAhead())
                .as("a1 (by another name) and b1 before it")
                .isEqualTo(1);
        assertThat(lanes.standing(a3.id).laneAhead()).isEqualTo(2);
        assertThat(lanes.standing(any.id).laneAhead())
                .as("a job without a checkpoint has no lane")
                .isNull();

        lanes.apply(a1.assignedTo("w1").state());
        assertThat(lanes.standing(a2.id).laneAhead())
                .as("a1 left the waiting jobs")
                .isZero();
        assertThat(lanes.standing(a3.id).laneAhead()).isEqualTo(1);
        lanes.apply(b1.assignedTo("w2").state());
        assertThat(lanes.standing(a3.id).laneAhead())
                .as("only its own checkpoint before it: the position says it all")
                .isNull();
        assertThat(lanes.standingOf(new Job(6).checkpoint("ckptB").state()).laneAhead())
                .as("a job not indexed yet")
                .isZero();

        lanes.replaceAll(List.of(a2.state(), b1.givenBack().state(), a3.state()));
        assertThat(lanes.standing(a3.id).laneAhead()).as("after a reload").isEqualTo(1);
        add(new Job(7).checkpoint("ckptA"));
        assertThat(index.standingOf(new Job(8).checkpoint("ckptB").state()).laneAhead())
                .as("an index of a policy that does not place by checkpoint counts no lane")
                .isNull();
    }

    @Test
    void theFifoPolicyOrdersByTicketOnly() {
        QueueIndex fifo = new QueueIndex(SchedulerPolicy.FIFO.order(), nanos::get);
        Job first = new Job(1).priority(2).tag(9);
        Job second = new Job(2).priority(0).tag(0);
        fifo.apply(second.state());
        fifo.apply(first.state());

        assertThat(fifo.standing(first.id).position()).isEqualTo(1);
        assertThat(fifo.standing(second.id).position()).isEqualTo(2);
    }

    @Test
    void assignedJobsThatHaveNotStartedStandAheadOfEveryWaitingJobButRunningOnesDoNot() {
        Job running = waiting(1);
        Job assigned = waiting(2);
        Job mine = waiting(3);
        index.apply(running.assignedTo("w1").state());
        index.apply(running.running().state());
        index.apply(assigned.assignedTo("w1").state());

        assertThat(index.standing(mine.id))
                .as("no job waits before it: the assigned one holds a slot")
                .isEqualTo(new QueueIndex.Standing(2, 0, false, List.of(), null, List.of()));
        assertThat(index.standing(assigned.id)).as("it starts next").isEqualTo(new QueueIndex.Standing(1, 0, true));
        assertThat(index.standing(running.id)).as("not queued").isNull();
        assertThat(index.counts().get(POOL)).isEqualTo(new QueueIndex.PoolCounts(1, 1, 1, Map.of("", 1)));
        assertThat(index.counts().get(POOL).queued()).isEqualTo(2);
    }

    @Test
    void ownAheadCountsTheOwnersWaitingJobsBeforeItAcrossItsCheckpointGroups() {
        add(new Job(1).owner(ALICE));
        add(new Job(2).owner(BOB));
        add(new Job(3).owner(ALICE).checkpoint("sdxl"));
        add(new Job(4).owner(BOB).checkpoint("flux"));
        Job mine = add(new Job(5).owner(ALICE));

        QueueIndex.Standing standing = index.standing(mine.id);

        assertThat(standing.position()).isEqualTo(5);
        assertThat(standing.ownAhead())
                .as("Alice's two before it, in two groups")
                .isEqualTo(2);
        assertThat(index.waitingOf(ALICE, POOL)).isEqualTo(3);
        assertThat(index.waitingOf(BOB, POOL)).isEqualTo(2);
        assertThat(index.counts().get(POOL).perCheckpoint()).isEqualTo(Map.of("", 3, "sdxl", 1, "flux", 1));
    }

    @Test
    void keepsTheWaitingBacklogPerCheckpointAnyAliasAsJobsEnterAndLeaveTheQueue() {
        Job a1 = add(new Job(1).checkpoint("sdxl.safetensors"));
        add(new Job(2).checkpoint("sdxl [0123456789]"));
        Job a3 = add(new Job(3).checkpoint("sdxl"));
        add(new Job(4).checkpoint("flux"));
        add(new Job(5));

        QueueIndex.Backlog three = index.backlog(POOL, "sdxl");
        add(a1.assignedTo("w1"));
        add(a3.succeeded());

        assertThat(three).isEqualTo(new QueueIndex.Backlog(3, 3.0));
        assertThat(index.backlog(POOL, "sdxl.safetensors")).isEqualTo(new QueueIndex.Backlog(1, 1.0));
        assertThat(index.backlog(POOL, null)).isEqualTo(new QueueIndex.Backlog(1, 1.0));
        assertThat(index.backlog(POOL, "other")).isEqualTo(QueueIndex.Backlog.NONE);
        assertThat(index.backlog("gpu-big", "sdxl")).isEqualTo(QueueIndex.Backlog.NONE);
        add(a1.givenBack());
        assertThat(index.backlog(POOL, "sdxl").jobs()).isEqualTo(2);
    }

    private static final UUID CAROL = UUID.fromString("00000000-0000-0000-0000-00000000000c");
    private static final long SECOND = 1_000_000_000L;

    /** A fair index in which Bob submitted one job every 2 s for 8 s (each handed out at once) and Alice 4 at once. */
    private QueueIndex fairWithBobSubmittingSteadilyAndAliceOverHerShare() {
        QueueIndex fair = new QueueIndex(SchedulerPolicy.FAIR.order(), true, nanos::get);
        for (int i = 0; i < 5; i++) {
            Job bob = new Job(100 + i).owner(BOB).tag(0);
            fair.apply(bob.state());
            fair.apply(bob.assignedTo("w1").state());
            fair.apply(bob.succeeded().state());
            if (i < 4) {
                nanos.addAndGet(2 * SECOND);
            }
        }
        for (int i = 0; i < 4; i++) { // over her share: tags 0, 1, 2, 3 (cost 1, weight 1)
            fair.apply(new Job(10 + i).tag(i).state());
        }
        return fair;
    }

    @Test
    void underFairShareTheEtaCountsTheJobsAnotherKeyWillSubmitBeforeAJobOnlyAsFastAsItSubmits() {
        QueueIndex fair = fairWithBobSubmittingSteadilyAndAliceOverHerShare();
        Job last = new Job(13).tag(3);

        QueueIndex.Standing standing = fair.standingOf(last.state());

        assertThat(standing.position()).isEqualTo(4);
        assertThat(standing.inflows())
                .as("Bob's tags end at 1: at most 2 of his jobs before Alice's tag 3")
                .hasSize(1);
        QueueIndex.Inflow bob = standing.inflows().get(0);
        assertThat(bob.jobs()).isEqualTo(2.0);
        assertThat(bob.jobsPerSecond()).as("about one job per 2 s").isBetween(0.45, 0.65);
        // a position takes 0.25 s: the job starts in about 1 s, Bob submits about half a job meanwhile, not 2
        assertThat(standing.etaPosition(0.25)).isBetween(4.4, 4.8);
        assertThat(standing.etaPosition(10.0)).as("a long wait: all of Bob's 2").isEqualTo(6.0);
    }

    @Test
    void aKeyThatStoppedSubmittingOrIsTheJobsOwnAddsNothingToItsEta() {
        QueueIndex fair = fairWithBobSubmittingSteadilyAndAliceOverHerShare();
        nanos.addAndGet(600 * SECOND); // Bob has been quiet for 10 minutes
        Job carol = new Job(50).owner(CAROL).tag(0);
        fair.apply(carol.state());
        Job alicesNext = new Job(14).tag(4);
        fair.apply(alicesNext.state());

        QueueIndex.Standing standing = fair.standing(alicesNext.id);

        assertThat(standing.position()).isEqualTo(6);
        assertThat(standing.inflows())
                .as("Carol submitted one job just now; Bob none for minutes; Alice's own later jobs come after")
                .singleElement()
                .satisfies(in -> assertThat(in.jobs()).isEqualTo(3.0));
    }

    @Test
    void noProjectionWithoutFairShareForTheHeadsTagOrAfterAReload() {
        QueueIndex plain = new QueueIndex(SchedulerPolicy.FAIR.order(), nanos::get);
        QueueIndex fair = fairWithBobSubmittingSteadilyAndAliceOverHerShare();
        Job bob = new Job(20).owner(BOB).tag(0);
        fair.apply(bob.state());
        plain.apply(bob.state());
        plain.apply(new Job(13).tag(3).state());
        QueueIndex reloaded = new QueueIndex(SchedulerPolicy.FAIR.order(), true, nanos::get);
        reloaded.replaceAll(List.of(
                bob.state(),
                new Job(30).owner(CAROL).tag(0).state(),
                new Job(13).tag(3).state()));

        assertThat(plain.standingOf(new Job(13).tag(3).state()).etaPosition(1.0))
                .isEqualTo(2.0);
        assertThat(fair.standing(bob.id).inflows()).as("tagged as the head").isEmpty();
        assertThat(reloaded.standingOf(new Job(13).tag(3).state()).inflows())
                .as("the jobs a reload finds were not submitted at that moment")
                .isEmpty();
    }

    @Test
    void theEtaPositionIsTheLeastPositionThatCountsTheInflowsOverItsOwnWait() {
        QueueIndex.Standing one = new QueueIndex.Standing(4, 0, false, List.of(new QueueIndex.Inflow(2, 0.5)));
        QueueIndex.Standing fast = new QueueIndex.Standing(
                4, 0, false, List.of(new QueueIndex.Inflow(3, 1.5), new QueueIndex.Inflow(1, 0.1)));

        assertThat(one.etaPosition(0.5)).as("p = 4 + 0.25 p").isCloseTo(16.0 / 3, within(1e-4));
        assertThat(one.etaPosition(1.0)).as("p = 4 + min(2, 0.5 p): capped").isCloseTo(6.0, within(1e-4));
        assertThat(fast.etaPosition(1.0))
                .as("they submit faster than the pool serves: all of it")
                .isEqualTo(8.0);
        assertThat(one.etaPosition(0)).as("no job time known").isEqualTo(4.0);
    }

    @Test
    void aJobNearTheHeadCarriesTheWaitingJobsBeforeItInOrderAndOneFurtherBackNone() {
        List<Job> jobs = new ArrayList<>();
        for (int i = 1; i <= QueueIndex.PLANNED_BEFORE + 2; i++) {
            jobs.add(waiting(i));
        }

        assertThat(index.standing(jobs.get(2).id).before())
                .extracting(JobState::id)
                .containsExactly(jobs.get(0).id, jobs.get(1).id);
        assertThat(index.standing(jobs.get(QueueIndex.PLANNED_BEFORE).id).before())
                .hasSize(QueueIndex.PLANNED_BEFORE);
        assertThat(index.standing(jobs.get(QueueIndex.PLANNED_BEFORE + 1).id).before())
                .as("more jobs before it than a plan follows")
                .isNull();
    }

    @Test
    void aJobJustSubmittedGetsTheStandingItWillHaveOnceItsNotificationArrives() {
        Job first = waiting(1);
        Job fresh = new Job(2);

        assertThat(index.standingOf(fresh.state()))
                .isEqualTo(new QueueIndex.Standing(2, 1, false, List.of(), null, List.of(first.state())));
        assertThat(index.standingOf(new Job(1).pool("empty").state()))
                .isEqualTo(new QueueIndex.Standing(1, 0, false, List.of(), null, List.of()));
    }

    @Test
    void pickReturnsTheBestGroupHeadTheWorkerMayTakeWithoutLookingBehindHeads() {
        Job aliceFlux = new Job(1).owner(ALICE).checkpoint("flux");
        Job aliceFlux2 = new Job(2).owner(ALICE).checkpoint("flux");
        Job aliceSdxl = new Job(3).owner(ALICE).checkpoint("sdxl");
        Job bob = new Job(4).owner(BOB).checkpoint("flux");
        for (Job job : List.of(aliceFlux, aliceFlux2, aliceSdxl, bob)) {
            index.apply(job.state());
        }
        List<UUID> tested = new ArrayList<>();

        JobState noFlux = index.pick(POOL, s -> {
            tested.add(s.id());
            return !"flux".equals(s.checkpoint());
        });
        JobState notAlice = index.pick(POOL, s -> !s.owner().equals(ALICE));
        JobState nothing = index.pick(POOL, s -> false);

        assertThat(noFlux.id()).isEqualTo(aliceSdxl.id);
        assertThat(tested)
                .as("only the heads of (owner, checkpoint, sampler) groups, in order")
                .containsExactly(aliceFlux.id, aliceSdxl.id);
        assertThat(notAlice.id()).isEqualTo(bob.id);
        assertThat(nothing).isNull();
        assertThat(index.pick("other-pool", s -> true)).isNull();
        assertThat(index.candidates(POOL, s -> true, 10))
                .extracting(JobState::id)
                .containsExactly(aliceFlux.id, aliceSdxl.id, bob.id);

        index.apply(aliceFlux.assignedTo("w1").state());

        assertThat(index.pick(POOL, s -> true).id())
                .as("the next of the group is its head now")
                .isEqualTo(aliceFlux2.id);
    }

    @Test
    void candidatesSeeTheIndexAsIfTheDecidedJobsNoLongerWaited() {
        // Alice's flux group: tags 1, 2, 5; her sdxl group: 3; Bob: 4 (fair order = tag order here)
        Job flux1 = add(new Job(1).owner(ALICE).checkpoint("flux"));
        Job flux2 = add(new Job(2).owner(ALICE).checkpoint("flux"));
        Job sdxl = add(new Job(3).owner(ALICE).checkpoint("sdxl"));
        Job bob = add(new Job(4).owner(BOB).checkpoint("flux"));
        Job flux5 = add(new Job(5).owner(ALICE).checkpoint("flux"));

        // with the flux group's first job decided, its second one is a candidate, in its place in the order
        assertThat(index.candidates(POOL, s -> true, 10, Set.of(flux1.id)))
                .extracting(JobState::id)
                .containsExactly(flux2.id, sdxl.id, bob.id);
        // with its first two decided, the third comes after Bob's
        assertThat(index.candidates(POOL, s -> true, 10, Set.of(flux1.id, flux2.id, sdxl.id)))
                .extracting(JobState::id)
                .containsExactly(bob.id, flux5.id);
        assertThat(index.candidates(POOL, s -> true, 1, Set.of(flux1.id, flux2.id)))
                .extracting(JobState::id)
                .containsExactly(sdxl.id);
        assertThat(index.pick(POOL, s -> "flux".equals(s.checkpoint()), Set.of(flux1.id, flux2.id))
                        .id())
                .isEqualTo(bob.id);
        assertThat(index.candidates(POOL, s -> true, 10, Set.of(flux1.id, flux2.id, sdxl.id, bob.id, flux5.id)))
                .isEmpty();
    }

    @Test
    void countsTheSlotsHeldPerWorkerAndPerOwnerUntilTheJobEndsOrIsGivenBack() {
        Job one = add(new Job(1).owner(ALICE));
        Job two = add(new Job(2).owner(ALICE));
        Job three = add(new Job(3).owner(BOB));
        index.apply(one.assignedTo("w1").state());
        index.apply(two.assignedTo("w1").state());
        index.apply(three.assignedTo("w2").state());

        assertThat(index.heldBy("w1")).extracting(h -> h.job().id()).containsExactlyInAnyOrder(one.id, two.id);
        assertThat(index.heldBy("w2")).extracting(h -> h.job().id()).containsExactly(three.id);
        assertThat(index.heldBy("w3")).isEmpty();
        assertThat(index.heldByOwner(ALICE)).isEqualTo(2);
        assertThat(index.heldByOwner(BOB)).isEqualTo(1);
        assertThat(index.workersHolding()).containsExactlyInAnyOrder("w1", "w2");
        assertThat(index.ownersIn(POOL)).isEqualTo(Map.of(ALICE, 2, BOB, 1));

        index.apply(one.running().state());
        index.apply(one.succeeded().state());
        index.apply(three.givenBack().state());

        assertThat(index.heldBy("w1")).extracting(h -> h.job().id()).containsExactly(two.id);
        assertThat(index.heldByOwner(ALICE)).isEqualTo(1);
        assertThat(index.heldByOwner(BOB)).isZero();
        assertThat(index.workersHolding()).containsExactly("w1");
        assertThat(index.isWaiting(three.id)).isTrue();
        assertThat(index.ownersIn(POOL)).isEqualTo(Map.of(ALICE, 1, BOB, 0));
    }

    @Test
    void remembersWhenItLearnedOfAnAssignmentAndWhenItStartedRunningAcrossNewerVersions() {
        Job job = waiting(1);
        nanos.set(5_000);
        index.apply(job.assignedTo("w1").state());
        nanos.set(7_000);
        index.apply(job.version(job.version + 1).state()); // e.g. a priority change: the same assignment
        nanos.set(9_000);
        index.apply(job.running().state());

        QueueIndex.Held held = index.heldBy("w1").get(0);

        assertThat(held.seenNanos()).isEqualTo(5_000);
        assertThat(held.runningSinceNanos()).isEqualTo(9_000);
        assertThat(held.running()).isTrue();

        nanos.set(11_000);
        index.apply(job.givenBack().state());
        index.apply(job.assignedTo("w1").state());

        QueueIndex.Held again = index.heldBy("w1").get(0);
        assertThat(again.seenNanos()).as("a new assignment").isEqualTo(11_000);
        assertThat(again.runningSinceNanos()).isZero();
    }

    @Test
    void anOlderStateNeverOverwritesANewerOne() {
        Job job = waiting(1);
        JobState waitingV1 = job.state();
        JobState assignedV2 = job.assignedTo("w1").state();
        JobState runningV3 = job.running().state();
        index.apply(runningV3);
        long changes = index.changes();

        index.apply(assignedV2);
        index.apply(waitingV1);
        index.apply(runningV3);

        assertThat(index.changes()).isEqualTo(changes);
        assertThat(index.isWaiting(job.id)).isFalse();
        assertThat(index.heldBy("w1")).extracting(h -> h.job().status()).containsExactly(JobStatus.RUNNING);
    }

    @Test
    void aJobThatLeftTheQueueIsNotBroughtBackByALateOlderState() {
        Job job = waiting(1);
        JobState assigned = job.assignedTo("w1").state();
        index.apply(job.running().state());
        index.apply(job.succeeded().state());

        index.apply(assigned);

        assertThat(index.heldBy("w1")).isEmpty();
        assertThat(index.standing(job.id)).isNull();
        assertThat(index.counts()).as("the pool has nothing left").isEmpty();
    }

    @Test
    void replaceAllStartsOverFromWhatTheReloadRead() {
        Job gone = waiting(1);
        Job stays = waiting(2);
        Job assigned = new Job(3).assignedTo("w1");
        List<String> pools = new ArrayList<>();
        index.onChange(pools::add);

        index.replaceAll(List.of(stays.state(), assigned.state()));

        assertThat(index.standing(gone.id)).isNull();
        assertThat(index.standing(stays.id))
                .isEqualTo(new QueueIndex.Standing(2, 0, false, List.of(), null, List.of()));
        assertThat(index.heldBy("w1")).hasSize(1);
        assertThat(index.waitingCount()).isEqualTo(1);
        assertThat(pools).as("one change, for every pool").containsExactly((String) null);
    }

    @Test
    void tellsItsListenersWhichPoolChangedAndNothingForAnIgnoredState() {
        List<String> pools = new ArrayList<>();
        index.onChange(pools::add);
        Job job = new Job(1).pool("a");

        index.apply(job.state());
        index.apply(job.state());
        index.apply(new Job(2).pool("b").state());

        assertThat(pools).containsExactly("a", "b");
        assertThat(index.counts().keySet()).isEqualTo(Set.of("a", "b"));
    }
}
