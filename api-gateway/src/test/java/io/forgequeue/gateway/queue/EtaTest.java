package io.forgequeue.gateway.queue;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class EtaTest {

    private static QueueSnapshot.PoolHistory history(int samples, Double mean, Double low, Double high) {
        return new QueueSnapshot.PoolHistory(samples, mean, low, high, null);
    }

    @Test
    void isUnknownWithoutHistoryOrWithoutAvailableWorkers() {
        assertThat(Eta.of(3, history(0, null, null, null), 2, 5)).isNull();
        assertThat(Eta.of(3, history(10, 4.0, 3.0, 5.0), 0, 5))
                .as("every worker of the pool paused or gone")
                .isNull();
    }

    @Test
    void isPositionTimesMeanJobTimeOverAvailableWorkersUntilItStartsThenItsOwnJobTime() {
        Eta eta = Eta.of(6, history(2, 10.0, 8.0, 12.0), 3, 5);

        assertThat(eta.seconds())
                .as("6 x 10 s / 3 workers, then 10 s of its own")
                .isEqualTo(30.0);
        assertThat(eta.minSeconds()).as("no range below 5 samples").isNull();
        assertThat(eta.maxSeconds()).isNull();
    }

    @Test
    void givesARangeFromThePercentilesOnceThereIsEnoughHistory() {
        Eta eta = Eta.of(4, history(50, 10.0, 6.0, 15.0), 2, 5);

        assertThat(eta.seconds()).isEqualTo(30.0);
        assertThat(eta.minSeconds()).as("4 x 6 s / 2, then 6 s").isEqualTo(18.0);
        assertThat(eta.maxSeconds()).as("4 x 15 s / 2, then 15 s").isEqualTo(45.0);
    }

    @Test
    void countsThePoolsLoadSecondsPerJobOnceAtEveryPositionOnTopOfTheGenerationTime() {
        // 2.5 s of generation, and the recent jobs loaded checkpoints for 0.5 s per job on average
        QueueSnapshot.PoolHistory history = new QueueSnapshot.PoolHistory(50, 2.5, 2.0, 3.0, 0.3, 0.5);

        Eta eta = Eta.of(8, history, 4, 5);

        assertThat(eta.seconds()).as("8 x (2.5 + 0.5) s / 4, then 2.5 s").isEqualTo(8.5);
        assertThat(eta.minSeconds()).isEqualTo(7.0);
        assertThat(eta.maxSeconds()).isEqualTo(10.0);
        assertThat(Eta.of(8, history(50, 2.5, 2.0, 3.0), 4, 5).seconds())
                .as("without load history")
                .isEqualTo(7.5);
    }

    // "Until done" left out the job's own run: the next job on 4 GPUs of 4 s jobs showed "about 1 s".
    @Test
    void aJobNextInLineIsDoneNoSoonerThanOneJobTime() {
        Eta eta = Eta.of(1, history(2, 4.0, 3.0, 5.0), 4, 5);

        assertThat(eta.seconds())
                .as("a quarter of a job until a GPU frees, then its own 4 s")
                .isEqualTo(5.0);
    }

    @Test
    void aJobEstimatedToStartInSomeSecondsIsDoneAfterItsOwnJobTimeWithTheRangeScaledLikeTheJobsAhead() {
        QueueSnapshot.PoolHistory history = new QueueSnapshot.PoolHistory(50, 2.5, 2.0, 3.0, 0.3, 0.5);

        Eta eta = Eta.startingIn(6.0, history, 5);

        assertThat(eta.seconds()).as("6 s, then 2.5 s").isEqualTo(8.5);
        assertThat(eta.minSeconds()).as("6 x (2 + 0.5) / (2.5 + 0.5), then 2 s").isEqualTo(7.0);
        assertThat(eta.maxSeconds()).as("6 x (3 + 0.5) / (2.5 + 0.5), then 3 s").isEqualTo(10.0);
        assertThat(Eta.startingIn(6.0, history, 5))
                .as("the same as counting 8 positions on 4 GPUs")
                .isEqualTo(Eta.of(8, history, 4, 5));
        assertThat(Eta.startingIn(0.0, history, 5).seconds()).as("starts now").isEqualTo(2.5);
        assertThat(Eta.startingIn(6.0, history(0, null, null, null), 5)).isNull();
    }
}
