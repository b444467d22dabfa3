package io.forgequeue.gateway.queue;

import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class EtaTest {

    private static QueueSnapshot queue(int workers, int samples, Double mean, Double low, Double high) {
        return new QueueSnapshot(Map.of(), workers, samples, mean, low, high, Instant.now());
    }

    @Test
    void isUnknownWithoutHistoryOrWithoutActiveWorkers() {
        assertThat(Eta.of(3, queue(2, 0, null, null, null), 5)).isNull();
        assertThat(Eta.of(3, queue(0, 10, 4.0, 3.0, 5.0), 5)).isNull();
    }

    @Test
    void isPositionTimesMeanJobTimeOverActiveWorkers() {
        Eta eta = Eta.of(6, queue(3, 2, 10.0, 8.0, 12.0), 5);

        assertThat(eta.seconds()).isEqualTo(20.0);
        assertThat(eta.minSeconds()).as("no range below 5 samples").isNull();
        assertThat(eta.maxSeconds()).isNull();
    }

    @Test
    void givesARangeFromThePercentilesOnceThereIsEnoughHistory() {
        Eta eta = Eta.of(4, queue(2, 50, 10.0, 6.0, 15.0), 5);

        assertThat(eta.seconds()).isEqualTo(20.0);
        assertThat(eta.minSeconds()).isEqualTo(12.0);
        assertThat(eta.maxSeconds()).isEqualTo(30.0);
    }
}
