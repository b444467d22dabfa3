package io.forgequeue.gateway.schedule;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Set;
import org.junit.jupiter.api.Test;

class SuspicionsTest {

    private static final long SECOND = 1_000_000_000L;
    private static final long INTERVAL = SECOND / 2;

    private final Suspicions suspicions = new Suspicions();

    @Test
    void anAssignmentNotStartedIsLostWhenTheWorkerReportsIdleAgainAfterItWasFirstMissed() {
        assertThat(suspicions.missed("j/1", false, 10 * SECOND, 40, INTERVAL))
                .as("first missed")
                .isFalse();
        assertThat(suspicions.missed("j/1", false, 10 * SECOND, 40, INTERVAL))
                .as("same status")
                .isFalse();

        assertThat(suspicions.missed("j/1", false, 10 * SECOND + INTERVAL, 41, INTERVAL))
                .as("idle again")
                .isTrue();
    }

    @Test
    void aRunningAssignmentTheWorkerNoLongerReportsIsLostOnlyAfterTheMergeOfALateOutcomeHadTime() {
        long first = 100 * SECOND;
        assertThat(suspicions.missed("j/1", true, first, 1, INTERVAL)).isFalse();

        assertThat(suspicions.missed("j/1", true, first + 3 * INTERVAL, 4, INTERVAL))
                .as("three intervals are not enough")
                .isFalse();
        assertThat(suspicions.missed("j/1", true, first + Suspicions.LOST_OUTCOME_MIN.toNanos() - 1, 20, INTERVAL))
                .isFalse();
        assertThat(suspicions.missed("j/1", true, first + Suspicions.LOST_OUTCOME_MIN.toNanos(), 21, INTERVAL))
                .isTrue();
    }

    @Test
    void aWorkerThatAnnouncesItselfRarelyIsGivenThreeIntervals() {
        long interval = 5 * SECOND;
        assertThat(suspicions.missed("j/1", true, 0, 1, interval)).isFalse();

        assertThat(suspicions.missed("j/1", true, 12 * SECOND, 3, interval)).isFalse();
        assertThat(suspicions.missed("j/1", true, 15 * SECOND, 4, interval)).isTrue();
    }

    @Test
    void whatWasSuspectedBeforeAGapCountsForNothingAfterIt() {
        suspicions.missed("j/1", true, 0, 1, INTERVAL);

        suspicions.clear(); // a new term as leader, or a round that failed (the database was away)

        assertThat(suspicions.missed("j/1", true, 30 * SECOND, 60, INTERVAL))
                .as("starts afresh")
                .isFalse();
        assertThat(suspicions.missed("j/1", true, 30 * SECOND + Suspicions.LOST_OUTCOME_MIN.toNanos(), 80, INTERVAL))
                .isTrue();
    }

    @Test
    void aReportedOrEndedAssignmentIsNoLongerSuspected() {
        suspicions.missed("j/1", false, 0, 1, INTERVAL);
        suspicions.missed("k/1", false, 0, 1, INTERVAL);

        suspicions.cleared("j/1");
        suspicions.retainAll(Set.of("j/1"));

        assertThat(suspicions.missed("j/1", false, INTERVAL, 2, INTERVAL))
                .as("missed anew")
                .isFalse();
        assertThat(suspicions.missed("k/1", false, INTERVAL, 2, INTERVAL))
                .as("forgotten, missed anew")
                .isFalse();
    }
}
