package io.forgequeue.gateway.schedule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.forgequeue.gateway.queue.JobState;
import io.forgequeue.model.JobStatus;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** The orders the scheduler can hand jobs out in, and its settings. */
class SchedulerPolicyTest {

    private static JobState job(long ticket, int priority, double tag) {
        return new JobState(
                UUID.randomUUID(),
                1,
                JobStatus.QUEUED,
                "default",
                UUID.randomUUID(),
                priority,
                tag,
                ticket,
                null,
                null,
                1.0,
                0,
                null,
                0,
                0,
                0);
    }

    private static List<Long> ticketsIn(SchedulerPolicy policy, List<JobState> jobs) {
        List<JobState> sorted = new ArrayList<>(jobs);
        sorted.sort(policy.order());
        return sorted.stream().map(JobState::ticket).toList();
    }

    private final List<JobState> jobs = List.of(
            job(1, 1, 3.0), // normal, late in fair share
            job(2, 2, 0.0), // low
            job(3, 1, 1.0), // normal, early
            job(4, 0, 9.0), // high
            job(5, 1, 1.0), // normal, same tag as 3
            job(6, 0, 2.0)); // high, earlier tag than 4

    @Test
    void fairServesPriorityClassesFirstThenTheFairTagThenTheTicket() {
        assertThat(ticketsIn(SchedulerPolicy.FAIR, jobs)).containsExactly(6L, 4L, 3L, 5L, 1L, 2L);
    }

    @Test
    void fifoServesBySubmissionOrderOnlyAsRoundOneDid() {
        assertThat(ticketsIn(SchedulerPolicy.FIFO, jobs)).containsExactly(1L, 2L, 3L, 4L, 5L, 6L);
    }

    @Test
    void bothOrdersAreTotalJobsAreEqualOnlyWithTheSameTicket() {
        JobState a = job(7, 1, 1.0);
        JobState b = job(8, 1, 1.0);
        JobState sameTicket = job(7, 1, 1.0);

        for (SchedulerPolicy policy : SchedulerPolicy.values()) {
            assertThat(policy.order().compare(a, b)).as(policy.name()).isNegative();
            assertThat(policy.order().compare(b, a)).as(policy.name()).isPositive();
            assertThat(policy.order().compare(a, sameTicket)).as(policy.name()).isZero();
        }
    }

    private static final SchedulerProperties.Affinity AFFINITY =
            new SchedulerProperties.Affinity(32, 4, Duration.ofSeconds(30), 10);

    @Test
    void aWorkerHasItsRunningSlotPlusTheLookaheadAndTheLeaseMustBeRenewedBeforeItExpires() {
        SchedulerProperties properties = new SchedulerProperties(
                true,
                SchedulerPolicy.FAIR,
                1,
                5,
                Duration.ofSeconds(3),
                Duration.ofMillis(500),
                Duration.ofMillis(250),
                Duration.ofMillis(250),
                Duration.ofMinutes(2),
                Duration.ofSeconds(1),
                Duration.ofSeconds(5),
                Duration.ofSeconds(5),
                Duration.ofSeconds(10),
                32,
                AFFINITY);

        assertThat(properties.slotsPerWorker()).isEqualTo(2);
        assertThatThrownBy(() -> new SchedulerProperties(
                        true,
                        SchedulerPolicy.FAIR,
                        1,
                        5,
                        Duration.ofSeconds(1),
                        Duration.ofSeconds(1),
                        Duration.ofMillis(250),
                        Duration.ofMillis(250),
                        Duration.ofMinutes(2),
                        Duration.ofSeconds(1),
                        Duration.ofSeconds(5),
                        Duration.ofSeconds(5),
                        Duration.ofSeconds(10),
                        32,
                        AFFINITY))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("renew-interval");
    }
}
