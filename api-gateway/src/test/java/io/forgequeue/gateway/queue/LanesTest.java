package io.forgequeue.gateway.queue;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.forgequeue.gateway.fleet.FleetWorker;
import io.forgequeue.model.JobStatus;
import io.forgequeue.model.WorkerState;
import io.forgequeue.model.WorkerStatus;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class LanesTest {

    private static final List<String> OFFERED = List.of("ckptA.safetensors", "ckptB.safetensors", "ckptC.safetensors");

    private static FleetWorker worker(String id, String loaded, List<String> offered, WorkerStatus.Assignment movedOn) {
        return new FleetWorker(
                id,
                UUID.randomUUID(),
                "default",
                WorkerState.READY,
                null,
                new WorkerStatus.ForgeOffer("forge-" + id, offered, List.of(), List.of(), loaded, Map.of(), null),
                0,
                false,
                0,
                0,
                0,
                null,
                1,
                1_000_000_000L,
                movedOn == null ? List.of() : List.of(movedOn),
                null);
    }

    private static FleetWorker worker(String id, String loaded) {
        return worker(id, loaded, OFFERED, null);
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
