package io.forgequeue.worker.job;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ProgressThrottleTest {

    private static final long MS = 1_000_000;
    private final ProgressThrottle throttle = new ProgressThrottle(250 * MS);

    @Test
    void sendsTheFirstReading() {
        assertThat(throttle.offer(0, 0)).isTrue();
    }

    @Test
    void sendsOnlyWhenThePercentageRises() {
        throttle.offer(10, 0);

        assertThat(throttle.offer(10, 1000 * MS)).isFalse();
        assertThat(throttle.offer(9, 2000 * MS)).as("never backwards").isFalse();
        assertThat(throttle.offer(11, 3000 * MS)).isTrue();
        assertThat(throttle.lastPercent()).isEqualTo(11);
    }

    @Test
    void sendsAtMostOncePerMinimumInterval() {
        throttle.offer(10, 0);

        assertThat(throttle.offer(20, 100 * MS)).isFalse();
        assertThat(throttle.offer(30, 249 * MS)).isFalse();
        assertThat(throttle.offer(40, 250 * MS)).isTrue();
        assertThat(throttle.offer(50, 300 * MS)).isFalse();
        assertThat(throttle.lastPercent())
                .as("a dropped reading is not remembered")
                .isEqualTo(40);
    }

    @Test
    void sendsEveryRiseWhenReadingsAreFarEnoughApart() {
        int sent = 0;
        for (int i = 0; i <= 100; i++) {
            if (throttle.offer(i, i * 300 * MS)) {
                sent++;
            }
        }

        assertThat(sent).isEqualTo(101);
    }
}
