package io.forgequeue.gateway.job;

import io.forgequeue.model.JobStatus;
import java.util.ArrayList;
import java.util.List;

/**
 * The transition table of {@link JobStatus}, written into SQL guards: a statement that moves jobs to a status
 * selects only rows whose status may move there, so the table in common-model is the one place the legal moves are
 * stated, for the merge and for every other move (cancel, sweep, scheduler). Package-private: only the job package
 * writes job state (docs/architecture.md, "Who owns what").
 */
final class JobTransitions {

    private JobTransitions() {}

    /** {@code 'A', 'B'}: the statuses that may move to {@code target} (for {@code status in (...)}). */
    static String sourcesOf(JobStatus target) {
        List<String> sources = new ArrayList<>();
        for (JobStatus from : JobStatus.values()) {
            if (from.canMoveTo(target)) {
                sources.add("'" + from.name() + "'");
            }
        }
        if (sources.isEmpty()) {
            throw new IllegalArgumentException("no status may move to " + target);
        }
        return String.join(", ", sources);
    }

    /** {@code 'A>B', ...}: every legal move and staying in a non-terminal status (the merge's guard). */
    static String movesAndStays() {
        List<String> pairs = new ArrayList<>();
        for (JobStatus from : JobStatus.values()) {
            for (JobStatus to : JobStatus.values()) {
                if (from.canMoveTo(to) || (from == to && !from.isTerminal())) {
                    pairs.add("'" + from.name() + ">" + to.name() + "'");
                }
            }
        }
        return String.join(", ", pairs);
    }

    /** {@code 'SUCCEEDED', 'FAILED', 'CANCELLED'}: the statuses that never change (for {@code status in (...)}). */
    static String terminal() {
        List<String> terminal = new ArrayList<>();
        for (JobStatus status : JobStatus.values()) {
            if (status.isTerminal()) {
                terminal.add("'" + status.name() + "'");
            }
        }
        return String.join(", ", terminal);
    }

    /**
     * {@code column = 'FROM'}: the condition of a statement that moves jobs from {@code from} to {@code to}, checked
     * against the table when the statement is built.
     *
     * @throws io.forgequeue.model.IllegalJobTransitionException when the table forbids the move
     */
    static String movingFrom(String column, JobStatus from, JobStatus to) {
        from.moveTo(to);
        return column + " = '" + from.name() + "'";
    }
}
