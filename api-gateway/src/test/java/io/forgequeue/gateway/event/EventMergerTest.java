package io.forgequeue.gateway.event;

import static org.assertj.core.api.Assertions.assertThat;

import io.forgequeue.model.JobEvent;
import io.forgequeue.model.JobStarted;
import io.forgequeue.model.JobStatus;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** Why an event that changed nothing changed nothing, as counted in gpu.gateway.events.rejected{reason}. */
class EventMergerTest {

    private static JobEvent ofAttempt(int attempt) {
        return new JobStarted(UUID.randomUUID(), attempt, "gpu-1", 3, Instant.now(), Map.of());
    }

    @Test
    void namesTheAssignmentAnEventDoesNotBelongToBeforeTheJobsState() {
        assertThat(EventMerger.rejection(ofAttempt(2), JobStatus.RUNNING, 2, true, true))
                .as("an old event of the current assignment")
                .isEqualTo(EventMerger.Outcome.DUPLICATE);
        assertThat(EventMerger.rejection(ofAttempt(1), JobStatus.SUCCEEDED, 2, false, false))
                .as("of an earlier assignment, even of a finished job")
                .isEqualTo(EventMerger.Outcome.STALE_ATTEMPT);
        assertThat(EventMerger.rejection(ofAttempt(3), JobStatus.QUEUED, 2, false, false))
                .as("of an assignment never made")
                .isEqualTo(EventMerger.Outcome.UNKNOWN_ASSIGNMENT);
        assertThat(EventMerger.rejection(ofAttempt(2), JobStatus.CANCELLED, 2, false, false))
                .as("of the last assignment of a finished job")
                .isEqualTo(EventMerger.Outcome.TERMINAL);
        assertThat(EventMerger.rejection(ofAttempt(2), JobStatus.QUEUED, 2, false, false))
                .as("of the current attempt from a worker that no longer holds it")
                .isEqualTo(EventMerger.Outcome.REVOKED);
        assertThat(EventMerger.rejection(ofAttempt(2), JobStatus.RUNNING, 2, false, true))
                .as("current, but the move is not in the table")
                .isEqualTo(EventMerger.Outcome.ILLEGAL_TRANSITION);
    }

    @Test
    void everyOutcomeHasTheTagOfItsMetric() {
        assertThat(EventMerger.Outcome.STALE_ATTEMPT.tag()).isEqualTo("stale-attempt");
        assertThat(EventMerger.Outcome.UNKNOWN_ASSIGNMENT.tag()).isEqualTo("unknown-assignment");
        assertThat(EventMerger.Outcome.REVOKED.tag()).isEqualTo("revoked");
    }
}
