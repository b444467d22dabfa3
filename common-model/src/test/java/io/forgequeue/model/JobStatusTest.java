package io.forgequeue.model;

import static io.forgequeue.model.JobStatus.CANCELLED;
import static io.forgequeue.model.JobStatus.FAILED;
import static io.forgequeue.model.JobStatus.QUEUED;
import static io.forgequeue.model.JobStatus.RUNNING;
import static io.forgequeue.model.JobStatus.SUCCEEDED;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class JobStatusTest {

    /** The table written out independently of the implementation: every allowed move. */
    private static final Set<List<JobStatus>> ALLOWED = Set.of(
            List.of(QUEUED, RUNNING),
            List.of(QUEUED, SUCCEEDED),
            List.of(QUEUED, FAILED),
            List.of(QUEUED, CANCELLED),
            List.of(RUNNING, QUEUED),
            List.of(RUNNING, SUCCEEDED),
            List.of(RUNNING, FAILED),
            List.of(RUNNING, CANCELLED));

    static List<Arguments> everyPair() {
        List<Arguments> pairs = new ArrayList<>();
        for (JobStatus from : JobStatus.values()) {
            for (JobStatus to : JobStatus.values()) {
                pairs.add(Arguments.of(from, to, ALLOWED.contains(List.of(from, to))));
            }
        }
        return pairs;
    }

    @ParameterizedTest(name = "{0} -> {1} allowed={2}")
    @MethodSource("everyPair")
    void allowsExactlyTheMovesOfTheTable(JobStatus from, JobStatus to, boolean allowed) {
        assertThat(from.canMoveTo(to)).isEqualTo(allowed);

        if (allowed) {
            assertThat(from.moveTo(to)).isEqualTo(to);
        } else {
            assertThatThrownBy(() -> from.moveTo(to))
                    .isInstanceOf(IllegalJobTransitionException.class)
                    .hasMessage("A job cannot move from " + from + " to " + to)
                    .satisfies(e -> {
                        IllegalJobTransitionException ex = (IllegalJobTransitionException) e;
                        assertThat(ex.from()).isEqualTo(from);
                        assertThat(ex.to()).isEqualTo(to);
                    });
        }
    }

    @Test
    void terminalStatesAreExactlyTheOnesWithNoWayOut() {
        for (JobStatus s : JobStatus.values()) {
            assertThat(s.isTerminal()).as(s.name()).isEqualTo(s.allowedTargets().isEmpty());
        }
        assertThat(List.of(JobStatus.values()))
                .filteredOn(JobStatus::isTerminal)
                .containsExactly(SUCCEEDED, FAILED, CANCELLED);
    }

    @Test
    void everyEventTypeImpliesAStatusAndHasItsOwnRoutingKey() {
        assertThat(EventType.REQUEUED.impliedStatus()).isEqualTo(QUEUED);
        assertThat(EventType.PROGRESS.impliedStatus()).isEqualTo(RUNNING);
        assertThat(EventType.SUCCEEDED.routingKey()).isEqualTo("job.succeeded");
        assertThat(List.of(EventType.values()))
                .extracting(EventType::routingKey)
                .doesNotHaveDuplicates()
                .allMatch(k -> k.startsWith("job."));
    }
}
