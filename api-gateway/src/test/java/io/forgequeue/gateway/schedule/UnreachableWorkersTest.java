package io.forgequeue.gateway.schedule;

import static org.assertj.core.api.Assertions.assertThat;

import io.forgequeue.gateway.fleet.FleetWorker;
import io.forgequeue.gateway.fleet.TestWorkers;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class UnreachableWorkersTest {

    private static final UUID INSTANCE = UUID.randomUUID();

    private static FleetWorker worker(UUID instance, long seq) {
        return TestWorkers.ready("w1", instance, null, seq, List.of());
    }

    @Test
    void aWorkerNoHandOutCameBackFromMayReceive() {
        assertThat(new UnreachableWorkers().mayReceive(worker(INSTANCE, 7))).isTrue();
    }

    @Test
    void aWorkerWhoseHandOutCameBackGetsNothingUntilItAnnouncesItselfAgain() {
        UnreachableWorkers unreachable = new UnreachableWorkers();

        unreachable.returned("w1", Optional.of(worker(INSTANCE, 7)));

        assertThat(unreachable.mayReceive(worker(INSTANCE, 7)))
                .as("same status as at the return")
                .isFalse();
        assertThat(unreachable.mayReceive(worker(INSTANCE, 7))).as("still").isFalse();
        assertThat(unreachable.mayReceive(worker(INSTANCE, 8)))
                .as("a newer status (its queue is back)")
                .isTrue();
        assertThat(unreachable.mayReceive(worker(INSTANCE, 8)))
                .as("and from then on")
                .isTrue();
    }

    @Test
    void aRestartedWorkerMayReceiveAtOnce() {
        UnreachableWorkers unreachable = new UnreachableWorkers();

        unreachable.returned("w1", Optional.of(worker(INSTANCE, 40)));

        assertThat(unreachable.mayReceive(worker(UUID.randomUUID(), 1))).isTrue();
    }

    @Test
    void aReturnForAWorkerNobodyKnowsBlocksNothing() {
        UnreachableWorkers unreachable = new UnreachableWorkers();

        unreachable.returned("w1", Optional.empty());

        assertThat(unreachable.mayReceive(worker(INSTANCE, 1))).isTrue();
    }
}
