package io.forgequeue.gateway.sweep;

import io.forgequeue.gateway.job.JobRow;
import io.forgequeue.gateway.job.StuckJobMoves;
import io.forgequeue.gateway.system.GatewayMetrics;
import io.forgequeue.model.ErrorCode;
import io.forgequeue.model.JobStatus;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.dao.DataAccessException;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;

/**
 * Fails RUNNING jobs that sent no event for {@link StuckSweepProperties#threshold()} with {@link ErrorCode#JOB_STUCK}
 * and tells their clients, on a timer; the move itself (one statement, safe with several gateways sweeping, a cancel
 * command queued for each) is the job package's {@link StuckJobMoves}. Logs and counts each job it failed.
 */
@Component
class StuckJobSweeper {

    private static final Logger log = LoggerFactory.getLogger(StuckJobSweeper.class);

    private final StuckJobMoves moves;
    private final StuckSweepProperties properties;
    private final GatewayMetrics metrics;
    private final String message;

    StuckJobSweeper(StuckJobMoves moves, StuckSweepProperties properties, GatewayMetrics metrics) {
        this.moves = moves;
        this.properties = properties;
        this.metrics = metrics;
        this.message = "The job stopped reporting progress for more than " + describe(properties.threshold())
                + " (its worker may have crashed or lost its connection), so it was given up. Please submit it again.";
    }

    @Scheduled(
            fixedDelayString = "${gateway.stuck-sweep.interval:30s}",
            initialDelayString = "${gateway.stuck-sweep.interval:30s}")
    void scheduled() {
        try {
            sweep();
        } catch (DataAccessException e) {
            log.warn("Stuck-job sweep failed: {}", e.getClass().getSimpleName());
        }
    }

    /** Fails the stuck jobs this instance could lock; returns them. */
    List<JobRow> sweep() {
        List<JobRow> failed = moves.failStuck(properties.threshold(), properties.batchSize(), message);
        for (JobRow row : failed) {
            log.warn(
                    "Job(id={}) failed as stuck: no event from worker {} since {}",
                    row.id(),
                    row.workerId(),
                    row.lastEventAt());
            metrics.stuckJobFailed();
            metrics.jobFinished(JobStatus.FAILED, row.pool(), row.errorCode());
        }
        return failed;
    }

    private static String describe(java.time.Duration d) {
        long seconds = d.toSeconds();
        if (seconds % 60 == 0 && seconds >= 60) {
            long minutes = seconds / 60;
            return minutes + (minutes == 1 ? " minute" : " minutes");
        }
        return seconds + (seconds == 1 ? " second" : " seconds");
    }
}
