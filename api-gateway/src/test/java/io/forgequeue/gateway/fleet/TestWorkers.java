package io.forgequeue.gateway.fleet;

import io.forgequeue.model.WorkerState;
import io.forgequeue.model.WorkerStatus;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** Workers as the directory holds them, for tests that need a few without a directory. */
public final class TestWorkers {

    private TestWorkers() {}

    /** A Forge at {@code forge-<id>} that offers {@code offered}, has {@code loaded} loaded and measured these loads. */
    public static WorkerStatus.ForgeOffer forge(
            String id, List<String> offered, String loaded, Map<String, Double> loadSeconds) {
        return new WorkerStatus.ForgeOffer("forge-" + id, offered, List.of(), List.of(), loaded, loadSeconds, null);
    }

    /** A READY worker of pool {@code default}, seen at time 0, announcing every second. */
    public static FleetWorker ready(String id, WorkerStatus.ForgeOffer forge) {
        return ready(id, UUID.randomUUID(), forge, 1, List.of());
    }

    /**
     * As {@link #ready(String, WorkerStatus.ForgeOffer)}, of this instance, at status {@code seq}, having moved on
     * from {@code movedOnFrom}.
     */
    public static FleetWorker ready(
            String id,
            UUID instance,
            WorkerStatus.ForgeOffer forge,
            long seq,
            List<WorkerStatus.Assignment> movedOnFrom) {
        return new FleetWorker(
                id,
                instance,
                "default",
                WorkerState.READY,
                null,
                forge,
                0,
                false,
                0,
                0,
                0,
                null,
                seq,
                1_000_000_000L,
                movedOnFrom,
                null);
    }
}
