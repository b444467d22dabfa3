package io.forgequeue.gateway.event;

import io.forgequeue.gateway.job.JobTransitions;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class MergeStatementTest {

    @Test
    void allowsExactlyTheTransitionTableAndStayingInANonTerminalState() {
        String moves = JobTransitions.movesAndStays();

        assertThat(moves.split(", ")).containsExactlyInAnyOrder(
                "'QUEUED>QUEUED'", "'QUEUED>RUNNING'", "'QUEUED>SUCCEEDED'", "'QUEUED>FAILED'", "'QUEUED>CANCELLED'",
                "'RUNNING>QUEUED'", "'RUNNING>RUNNING'", "'RUNNING>SUCCEEDED'", "'RUNNING>FAILED'",
                "'RUNNING>CANCELLED'");
    }

    @Test
    void embedsTheMovesAndTheJobColumnsIntoOneStatement() {
        assertThat(MergeStatement.SQL).contains("'RUNNING>CANCELLED'").contains("for update of job")
                .contains("returning job.id, job.owner_key_id").doesNotContain("%s");
    }
}
