package io.forgequeue.gateway.queue;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.forgequeue.gateway.fleet.FleetWorker;
import io.forgequeue.gateway.fleet.TestWorkers;
import io.forgequeue.model.JobStatus;
import io.forgequeue.model.WorkerStatus;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class LanesTest {

    private static final List<String> OFFERED = List.of("ckptA.safetensors", "ckptB.safetensors", "ckptC.safetensors");

    private static FleetWorker worker(String id, String loaded, List<String> offered, WorkerStatus.Assignment movedOn) {
        return TestWorkers.ready(
                id,
                UUID.randomUUID(),
                TestWorkers.forge(id, offered, loaded, Map.of()),
                1,
                movedOn == null ? List.of() : List.of(movedOn));
    }

    private static FleetWorker worker(String id, String loaded) {
        return worker(id, loaded, OFFERED, null);
    }

    /** A worker that measured {@code loadSeconds} for its checkpoints, busy for {@code busy} seconds. */
    private static Lanes.WorkerLoad measured(
            String id, String loaded, List<String> offered, Map<String, Double> loadSeconds, double busy) {
        FleetWorker w = TestWorkers.ready(id, TestWorkers.forge(id, offered, loaded, loadSeconds));
        return new Lanes.WorkerLoad(w, loaded, busy, 0);
    }

    /** A waiting job of {@code checkpoint} that takes {@code cost} standard images. */
    private static JobState waiting(String checkpoint, double cost) {
        return new JobState(
                UUID.randomUUID(),
                1,
                JobStatus.QUEUED,
                "default",
                UUID.randomUUID(),
                1,
                0,
                1,
                checkpoint,
                null,
                cost,
                0,
                null,
                0,
                0,
                0);
    }

    private static QueueIndex.Held held(
            String worker, String checkpoint, double cost, long assignedAt, Long startedAt, UUID id) {
        JobState s = new JobState(
                id,
                2,
                startedAt == null ? JobStatus.QUEUED : JobStatus.RUNNING,
                "default",
                UUID.randomUUID(),
                1,
                0,
                1,
                checkpoint,
                null,
                cost,
                0,
                worker,
                1,
                assignedAt,
                startedAt == null ? 0 : startedAt);
        return new QueueIndex.Held(s, 0, startedAt == null ? 0 : 1);
    }

    private static Lanes.WorkerLoad idle(String id, String loaded, double busy) {
        return new Lanes.WorkerLoad(worker(id, loaded), loaded, busy, 0);
    }

    @Test
    void aJobStartsOnTheGpusThatWillHoldItsCheckpointOneJobPerGpuThenTheWorkSpreadOverThem() {
        Lanes lanes = Lanes.of(List.of(
                idle("w1", "ckptA.safetensors", 1.0), idle("w2", "ckptA", 3.0), idle("w3", "ckptB.safetensors", 0.0)));

        assertThat(lanes.startIn("ckptA", 0, 2.0))
                .as("the soonest GPU holding A")
                .isEqualTo(1.0);
        assertThat(lanes.startIn("ckptA.safetensors [0123456789]", 1, 2.0))
                .as("the next one, by another name of A")
                .isEqualTo(3.0);
        assertThat(lanes.startIn("ckptA", 3, 2.0))
                .as("4th job of A: (1 + 3 + 3 jobs x 2 s) over 2 GPUs")
                .isCloseTo(5.0, within(1e-9));
        assertThat(lanes.startIn("ckptB", 2, 2.0))
                .as("B on its one GPU: 2 jobs before it")
                .isEqualTo(4.0);
    }

    @Test
    void aCheckpointNoGpuHoldsStartsOnTheGpuThatFreesUpFirstWhichThenServesItAlone() {
        Lanes lanes = Lanes.of(List.of(idle("w1", "ckptA", 2.5), idle("w2", "ckptB", 1.5)));

        assertThat(lanes.startIn("ckptC", 0, 2.0)).isEqualTo(1.5);
        assertThat(lanes.startIn("ckptC", 2, 2.0)).isEqualTo(5.5);
        assertThat(Lanes.of(List.of()).startIn("ckptC", 0, 2.0)).as("no worker").isNull();
    }

    @Test
    void aGpuThatDoesNotOfferTheCheckpointItReportsLoadedIsNoGpuOfItsLane() {
        Lanes lanes = Lanes.of(List.of(
                new Lanes.WorkerLoad(worker("w1", "ckptA", List.of("ckptB"), null), "ckptA", 0.0, 0),
                idle("w2", "ckptB", 4.0)));

        assertThat(lanes.startIn("ckptA", 0, 2.0))
                .as("no GPU of A: the soonest GPU switches")
                .isEqualTo(0.0);
        assertThat(lanes.startIn("ckptA", 1, 2.0)).isEqualTo(2.0);
    }

    /** w1 holds A and is busy for 3 s, w2 holds B and is busy for 1 s; both measured A at 4 s and B at 1 s. */
    private static Lanes aHoldsABusy3sBHoldsBBusy1s() {
        Map<String, Double> loads = Map.of("ckptA.safetensors", 4.0, "ckptB.safetensors", 1.0);
        return Lanes.of(List.of(
                measured("w1", "ckptA.safetensors", OFFERED, loads, 3.0),
                measured("w2", "ckptB.safetensors", OFFERED, loads, 1.0)));
    }

    @Test
    void aPlannedStartWeighsAWarmGpuThatFreesLaterAgainstASwitchOnOneThatFreesSooner() {
        Lanes lanes = aHoldsABusy3sBHoldsBBusy1s();

        assertThat(lanes.plannedStart(List.of(), "ckptA", 2.0))
                .as("w1 holds A and frees at 3 s; w2 frees at 1 s but loads A for 4 s")
                .isEqualTo(3.0);
        assertThat(lanes.plannedStart(List.of(), "ckptB.safetensors [0123456789]", 2.0))
                .as("w2 holds B (another name of it)")
                .isEqualTo(1.0);
        assertThat(lanes.plannedStart(List.of(), "ckptC", 2.0))
                .as("nobody measured C: the GPU that frees first, no load counted")
                .isEqualTo(1.0);
    }

    @Test
    void thePlannedStartComesAfterTheJobsBeforeItEachOnTheGpuThatStartsItSoonest() {
        Lanes lanes = aHoldsABusy3sBHoldsBBusy1s();

        // B (1 s at 2 s per image) on w2 at 1 s, busy to 2 s; then A on w1 at 3 s (w2 would load A: 2 + 4), busy
        // to 5 s; then B on w2 at 2 s, busy to 4 s
        List<JobState> before = List.of(waiting("ckptB", 0.5), waiting("ckptA", 1.0), waiting("ckptB", 1.0));

        assertThat(lanes.plannedStart(before, "ckptB", 2.0))
                .as("w2 again, at 4 s")
                .isEqualTo(4.0);
        assertThat(lanes.plannedStart(before, "ckptA", 2.0))
                .as("w1 at 5 s, against w2 at 4 + a load of 4 s")
                .isEqualTo(5.0);
    }

    @Test
    void aPlanSkipsGpusThatDoNotOfferAJobsCheckpointAndHasNoStartWhenNoneDoes() {
        Lanes lanes = Lanes.of(List.of(
                measured("w1", "ckptA.safetensors", List.of("ckptA.safetensors"), Map.of(), 0.0),
                measured("w2", "ckptB.safetensors", OFFERED, Map.of("ckptA.safetensors", 2.0), 5.0)));

        assertThat(lanes.plannedStart(List.of(), "ckptC", 1.0))
                .as("only w2 offers C; nobody measured it")
                .isEqualTo(5.0);
        assertThat(lanes.plannedStart(List.of(waiting("ckptA", 10.0)), "ckptA", 1.0))
                .as("after a 10-s job of A on w1, w2 at 5 s + its 2 s for A beats w1 at 10 s")
                .isEqualTo(7.0);
        assertThat(lanes.plannedStart(List.of(), "ckptD", 1.0))
                .as("nobody offers D")
                .isNull();
    }

    @Test
    void aWorkersLoadCountsWhatItRunsLessWhatItRanAndWhatIsAssignedAfterIt() {
        long now = 100_000;
        UUID done = UUID.randomUUID();
        FleetWorker w = worker("w1", "ckptA", OFFERED, new WorkerStatus.Assignment(done, 1));
        List<QueueIndex.Held> jobs = List.of(
                held("w1", "ckptA", 2.0, now - 3_000, now - 1_000, UUID.randomUUID()), // 4 s, ran 1
                held("w1", "ckptB", 1.0, now - 500, null, UUID.randomUUID()), // 2 s, next
                held("w1", "ckptC", 5.0, now - 100, now - 50_000, done)); // done on its side

        Lanes.WorkerLoad load = Lanes.WorkerLoad.of(w, jobs, 2.0, now);

        assertThat(load.busySeconds()).isCloseTo(3.0 + 2.0, within(1e-9));
        assertThat(load.loadedNext())
                .as("the checkpoint of the job assigned last")
                .isEqualTo("ckptB");
        assertThat(load.holding()).isEqualTo(2);
        assertThat(Lanes.WorkerLoad.of(w, List.of(), 2.0, now).loadedNext())
                .as("holding nothing: what its Forge has loaded")
                .isEqualTo("ckptA");
    }
}
