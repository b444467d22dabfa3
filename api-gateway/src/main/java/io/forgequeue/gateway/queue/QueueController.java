package io.forgequeue.gateway.queue;

import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.tags.Tag;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

import java.time.Instant;
import java.util.Comparator;
import java.util.List;

/** {@code GET /api/v1/queue}: the queue overview. */
@RestController
@Tag(name = "queue")
class QueueController {

    private final QueueStats stats;

    QueueController(QueueStats stats) {
        this.stats = stats;
    }

    @GetMapping("/api/v1/queue")
    @Operation(summary = "Queue overview", description = "Depth and running jobs (all pools and per pool), active "
            + "workers (distinct worker ids that sent an event in the last minute) and the recent mean job time. "
            + "Refreshed about once a second.")
    QueueView queue() {
        QueueSnapshot s = stats.snapshot();
        List<QueueView.PoolView> pools = s.pools().entrySet().stream()
                .map(e -> new QueueView.PoolView(e.getKey(), e.getValue().queued(), e.getValue().running()))
                .sorted(Comparator.comparing(QueueView.PoolView::pool))
                .toList();
        return new QueueView(s.queued(), s.running(), s.activeWorkers(), s.meanJobSeconds(), s.samples(), pools,
                s.refreshedAt());
    }

    /**
     * The queue overview.
     *
     * @param depth          queued jobs, all pools
     * @param running        running jobs, all pools
     * @param activeWorkers  distinct workers that sent an event in the last minute
     * @param meanJobSeconds mean run time of recently finished jobs, or null without history
     * @param samples        how many finished jobs the mean is taken over
     * @param pools          the same per pool
     * @param refreshedAt    when these numbers were taken
     */
    record QueueView(long depth, long running, int activeWorkers, Double meanJobSeconds, int samples,
                     List<PoolView> pools, Instant refreshedAt) {

        record PoolView(String pool, long depth, long running) {
        }
    }
}
