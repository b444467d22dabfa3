package io.forgequeue.gateway.fleet;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

class FleetWorkerTest {

    private static FleetWorker measuring(String id, Map<String, Double> loadSeconds) {
        return TestWorkers.ready(
                id, TestWorkers.forge(id, List.of("sdxl.safetensors", "flux.safetensors"), null, loadSeconds));
    }

    @Test
    void theMeanLoadCountsOnlyTheWorkersThatMeasuredTheCheckpointUnderAnyOfItsNames() {
        FleetWorker fast = measuring("w1", Map.of("sdxl.safetensors [abc123]", 4.0));
        FleetWorker slow = measuring("w2", Map.of("sdxl.safetensors", 10.0, "flux.safetensors", 30.0));
        FleetWorker never = measuring("w3", Map.of());

        assertThat(FleetWorker.meanLoadSeconds(Stream.of(fast, slow, never), "sdxl"))
                .hasValue(7.0);
        assertThat(FleetWorker.meanLoadSeconds(Stream.of(fast, never), "flux.safetensors"))
                .isEmpty();
        assertThat(FleetWorker.meanLoadSeconds(Stream.of(fast, slow), null)).isEmpty();
    }
}
