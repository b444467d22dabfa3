package io.forgequeue.gateway.fleet;

import static org.assertj.core.api.Assertions.assertThat;

import io.forgequeue.model.WorkerState;
import io.forgequeue.model.WorkerStatus;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Two live workers that drive one Forge: the later is refused until the first is gone. Re-decided only among the
 * workers naming the Forge concerned, so 500 joining workers do not each re-sort the fleet (issue 21).
 */
class WorkerDirectoryRefusalTest {

    private final AtomicLong clock = new AtomicLong(1_000_000_000L);
    private final WorkerDirectory fleet =
            new WorkerDirectory(new FleetProperties(Duration.ofSeconds(5), Duration.ofMinutes(10)), clock::get);
    private final UUID first = UUID.randomUUID();
    private final UUID second = UUID.randomUUID();

    @Test
    void theSecondWorkerOfAForgeIsRefusedUntilTheFirstIsGoneWhateverOtherWorkersDo() {
        fleet.accept(status("a", first, 1, WorkerState.READY, "http://forge-1"));
        clock.addAndGet(1_000_000);
        fleet.accept(status("b", second, 1, WorkerState.READY, "http://forge-1"));
        for (int i = 0; i < 100; i++) { // others joining: one Forge each
            fleet.accept(status("x" + i, UUID.randomUUID(), 1, WorkerState.READY, "http://forge-x" + i));
        }

        assertThat(fleet.get("a").orElseThrow().refusedBecause()).isNull();
        assertThat(fleet.get("b").orElseThrow().refusedBecause()).contains("already driven by worker a");
        assertThat(fleet.available()).hasSize(101);

        fleet.accept(status("a", first, 2, WorkerState.GONE, "http://forge-1"));

        assertThat(fleet.get("b").orElseThrow().refusedBecause()).isNull();
        assertThat(fleet.get("x7").orElseThrow().refusedBecause()).isNull();
    }

    @Test
    void aWorkerThatNamesAnotherForgeIsNoLongerRefused() {
        fleet.accept(status("a", first, 1, WorkerState.READY, "http://forge-1"));
        clock.addAndGet(1_000_000);
        fleet.accept(status("b", second, 1, WorkerState.READY, "http://forge-1"));
        assertThat(fleet.get("b").orElseThrow().refusedBecause()).isNotNull();

        fleet.accept(status("b", second, 2, WorkerState.READY, "http://forge-2"));

        assertThat(fleet.get("b").orElseThrow().refusedBecause()).isNull();
        assertThat(fleet.get("a").orElseThrow().refusedBecause()).isNull();
    }

    private static WorkerStatus status(String id, UUID instance, long seq, WorkerState state, String forge) {
        return new WorkerStatus(
                id,
                instance,
                "default",
                state,
                seq,
                null,
                new WorkerStatus.ForgeOffer(
                        forge, List.of("ckpt"), List.of("Euler a"), List.of(), "ckpt", Map.of(), null),
                1000,
                Instant.now());
    }
}
