package io.forgequeue.worker.forge;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Attribution and interrupt evidence from Forge's global progress state (API-only mode), one request. */
class CallWatchTest {

    private static final String TS = "20250101120000";
    private static final String LATER = "20250101120007";

    private final CallWatch watch = new CallWatch("job-1", 20);

    private static ProgressSnapshot busy(
            String job, int jobCount, String ts, int jobNo, int step, int steps, boolean interrupted) {
        return new ProgressSnapshot(0.5, 1, jobCount, jobNo, step, steps, interrupted, false, job, ts, null);
    }

    private static ProgressSnapshot ours(String ts, int step) {
        return busy(CallWatch.API_JOB, 1, ts, 0, step, 20, false);
    }

    private static ProgressSnapshot idle(String ts, boolean interrupted) {
        return new ProgressSnapshot(0, 0, 0, 1, 0, 20, interrupted, false, "", ts, null);
    }

    @Test
    void attributesTheOneJobThatRunsWhileTheRequestIsOutstanding() {
        assertThat(watch.attribute(idle("0", false))).as("not begun yet").isFalse();
        assertThat(watch.attribute(ours(TS, 0))).isTrue();
        assertThat(watch.attribute(ours(TS, 7))).isTrue();
        assertThat(watch.attribute(busy(CallWatch.API_JOB, 1, TS, 1, 0, 20, false)))
                .as("end of the batch: step back to 0, job_no up")
                .isTrue();
        assertThat(watch.attributedTimestamp()).isEqualTo(TS);
    }

    @Test
    void attributesNothingThatDoesNotFitTheRequest() {
        assertThat(watch.attribute(busy("task(ui-ABCDEFG)", 1, TS, 0, 3, 20, false)))
                .as("a web UI job")
                .isFalse();
        assertThat(new CallWatch("job-2", 20).attribute(busy(CallWatch.API_JOB, 1, TS, 0, 3, 80, false)))
                .as("other steps")
                .isFalse();
        assertThat(new CallWatch("job-3", 20).attribute(busy("Batch 1 out of 2", 2, TS, 0, 3, 20, false)))
                .as("several batches")
                .isFalse();
    }

    @Test
    void stopsAttributingForTheRestOfTheRequestOnceASecondJobIsSeen() {
        assertThat(watch.attribute(ours(TS, 5))).isTrue();

        assertThat(watch.attribute(ours(LATER, 9))).as("another job_timestamp").isFalse();
        assertThat(watch.attribute(ours(TS, 9))).as("ambiguous from now on").isFalse();

        CallWatch stepBack = new CallWatch("job-4", 20);
        stepBack.attribute(ours(TS, 5));
        assertThat(stepBack.attribute(ours(TS, 2)))
                .as("same second, restarted from a lower step")
                .isFalse();

        CallWatch idleBetween = new CallWatch("job-5", 20);
        idleBetween.attribute(ours(TS, 5));
        idleBetween.attribute(idle(TS, false));
        assertThat(idleBetween.attribute(ours(TS, 6)))
                .as("Forge was idle in between")
                .isFalse();

        CallWatch otherFirst = new CallWatch("job-6", 20);
        otherFirst.attribute(busy("task(ui-ABCDEFG)", 1, TS, 0, 3, 20, false));
        assertThat(otherFirst.attribute(ours(LATER, 1)))
                .as("a job after another client's")
                .isFalse();
    }

    @Test
    void concludesInterruptedElsewhereFromAFlagSeenForTheAnswersJob() {
        watch.record(ours(TS, 3));
        watch.record(busy(CallWatch.API_JOB, 1, TS, 0, 4, 20, true));

        assertThat(watch.conclude(TS, false, () -> null)).isEqualTo(CallWatch.Interruption.ELSEWHERE);
    }

    @Test
    void ignoresTheFlagsOfOtherJobsAndOfAnEarlierJobShownWhileIdle() {
        watch.record(busy(CallWatch.API_JOB, 1, "20250101115959", 0, 4, 20, true)); // someone else's, before ours
        watch.record(idle(TS, true)); // an earlier job of the same second, before ours began
        watch.record(ours(TS, 3));

        assertThat(watch.conclude(TS, false, () -> ours(LATER, 0))).isEqualTo(CallWatch.Interruption.NONE);
    }

    @Test
    void readsTheFlagsTheAnsweredJobLeftWhenForgeIsIdleAfterwards() {
        assertThat(new CallWatch("a", 20).conclude(TS, false, () -> idle(TS, true)))
                .isEqualTo(CallWatch.Interruption.ELSEWHERE);
        assertThat(new CallWatch("b", 20).conclude(TS, false, () -> idle(TS, false)))
                .isEqualTo(CallWatch.Interruption.NONE);
        assertThat(new CallWatch("c", 20).conclude(TS, false, () -> busy(CallWatch.API_JOB, 1, TS, 0, 1, 20, true)))
                .as("a new job of the same second: its flags, not ours")
                .isEqualTo(CallWatch.Interruption.NONE);
        assertThat(new CallWatch("d", 20).conclude(TS, false, () -> idle(LATER, true)))
                .isEqualTo(CallWatch.Interruption.NONE);
    }

    @Test
    void takesAnAnswerWithoutAnyImageForAnInterruptAndItsOwnInterruptForItsOwn() {
        assertThat(new CallWatch("a", 20).conclude(TS, true, () -> null)).isEqualTo(CallWatch.Interruption.ELSEWHERE);

        watch.record(busy(CallWatch.API_JOB, 1, TS, 0, 4, 20, true));
        watch.markOwnInterrupt();
        assertThat(watch.conclude(TS, true, () -> idle(TS, true))).isEqualTo(CallWatch.Interruption.OWN);
    }

    @Test
    void recognisesItsAbandonedRequestOnlyAsTheJobItSawRunning() {
        watch.attribute(ours(TS, 5));

        assertThat(watch.stillRuns(ours(TS, 9))).isTrue();
        assertThat(watch.stillRuns(ours(TS, 1)))
                .as("a later job of the same second")
                .isFalse();
        assertThat(watch.stillRuns(ours(LATER, 9))).isFalse();
        assertThat(new CallWatch("never-seen", 20).stillRuns(ours(TS, 9))).isFalse();
    }
}
