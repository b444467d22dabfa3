package io.forgequeue.worker.forge;

import static io.forgequeue.model.fixtures.JobSpecBuilder.aSpec;
import static org.assertj.core.api.Assertions.assertThat;

import io.forgequeue.model.JobSpec;
import io.forgequeue.worker.system.WorkerMetrics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What one answered call was, model-wise: above all, whether its time may teach the gateway's job times. */
class ForgeModelsTest {

    private static final Checkpoint A =
            new Checkpoint("a.safetensors [1111111111]", "a", "1111111111", null, "/models/a.safetensors");
    private static final Checkpoint B =
            new Checkpoint("b.safetensors [2222222222]", "b", "2222222222", null, "/models/b.safetensors");
    private static final List<Checkpoint> LISTED = List.of(A, B);
    private static final long SECOND = 1_000_000_000L;

    private final ForgeModels models = new ForgeModels(new WorkerMetrics(new SimpleMeterRegistry()), 8);
    /** 20 steps at 512x512: 20 reference steps. */
    private final JobSpec spec = aSpec().size(512, 512).steps(20).build();

    private static ForgeInfo ran(Checkpoint c) {
        return new ForgeInfo(
                null, List.of(), 0, c.modelName(), c.hash(), null, null, null, null, null, null, null, null);
    }

    // A fresh Forge loads its first checkpoint during the first call (lazily); before the worker has measured its
    // speed it cannot split that call into load and generation, and the gateway counted the whole call as a job
    // time: the mixed-fleet benchmark's pool mean started at 3.5-3.8 s for jobs of 2.5 s.
    @Test
    void theFirstCallBeforeTheWorkerKnowsItsSpeedIsMarkedAsHoldingALoadOfUnknownLength() {
        ForgeModels.Run first = models.answered(spec, ran(A), LISTED, 5 * SECOND, true);

        assertThat(first.loadUnsplit()).isTrue();
        assertThat(first.anyLoadNanos()).isZero();

        ForgeModels.Run second = models.answered(spec, ran(A), LISTED, 2 * SECOND, true);
        assertThat(second.loadUnsplit())
                .as("the same checkpoint again: a plain generation")
                .isFalse();

        ForgeModels.Run switched = models.answered(spec, ran(B), LISTED, 5 * SECOND, true);
        assertThat(switched.loadUnsplit())
                .as("its speed is known now: the switch is measured")
                .isFalse();
        assertThat(switched.loadNanos()).isPositive();
    }

    @Test
    void aSwitchBeforeTheWorkerKnowsItsSpeedIsMarkedToo() {
        models.answered(spec, ran(A), LISTED, 5 * SECOND, true);

        ForgeModels.Run switched = models.answered(spec, ran(B), LISTED, 5 * SECOND, true);

        assertThat(switched.loadUnsplit()).isTrue();
        assertThat(switched.loadNanos()).isZero();
    }

    @Test
    void aCallWhoseModelCannotBeToldIsNotMarked() {
        ForgeModels.Run unknown = models.answered(spec, ForgeInfo.EMPTY, LISTED, 5 * SECOND, true);

        assertThat(unknown.ran()).isNull();
        assertThat(unknown.loadUnsplit())
                .as("every call would be unknown: marking them would leave the pool without job times")
                .isFalse();
    }
}
