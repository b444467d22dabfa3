package io.forgequeue.gateway.job;

import io.forgequeue.model.JobStatus;

import java.util.ArrayList;
import java.util.List;

/**
 * The transition table of {@link JobStatus}, written into SQL guards: a statement that moves jobs to a status
 * selects only rows whose status may move there, so the table in common-model is the one place the legal moves are
 * stated, for the merge and for every other move (cancel, sweep, scheduler).
 */
public final class JobTransitions {

    private JobTransitions() {
    }

    /** {@code 'A', 'B'}: the statuses that may move to {@code target} (for {@code status in (...)}). */
    public static String sourcesOf(JobStatus target) {
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
    public static String movesAndStays() {
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
}
