package io.forgequeue.gateway.queue;

import io.forgequeue.gateway.apikey.Caller;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.security.SecurityRequirement;
import io.swagger.v3.oas.annotations.tags.Tag;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/** {@code GET /api/v1/queue}: the queue overview, per pool and for the caller. */
@RestController
@Tag(name = "queue")
@SecurityRequirement(name = "apiKey")
class QueueController {

    private final QueueOverview overview;

    QueueController(QueueOverview overview) {
        this.overview = overview;
    }

    @GetMapping("/api/v1/queue")
    @Operation(
            summary = "Queue overview",
            description = "Per pool: queued jobs (waiting for a GPU or already "
                    + "assigned to one), running jobs, the workers that take jobs now (connected and healthy) and those that "
                    + "are paused (their Forge is unreachable, or they shut down), the recent mean job time, and the caller's "
                    + "own queued and running jobs with its fair share (its weight among the keys with work in the pool) and "
                    + "its share of the GPUs busy now. Live: read from memory, no query. WebSocket clients get the same "
                    + "pushed on every change (subscribe with scope \"queue\", PROTOCOL.md).")
    QueueView queue(@Parameter(hidden = true) Caller caller) {
        return overview.of(caller.keyId(), caller.quota().weight());
    }
}
