package io.forgequeue.gateway.apikey;

import io.forgequeue.gateway.quota.Priority;
import io.forgequeue.gateway.quota.Quota;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.security.SecurityRequirement;
import io.swagger.v3.oas.annotations.tags.Tag;
import java.util.Arrays;
import java.util.List;
import org.springframework.http.CacheControl;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * {@code GET /api/v1/me}: the calling key's name and what it may use, so a client can offer exactly the choices the
 * key allows (a priority select that shows {@code high} only where it would be accepted) and explain a 429.
 */
@RestController
@Tag(name = "keys")
@SecurityRequirement(name = "apiKey")
class MeController {

    @GetMapping("/api/v1/me")
    @Operation(
            summary = "The calling API key",
            description = "Its name and quota (defaults applied): how many jobs "
                    + "it may have waiting and holding GPUs, its fair-share weight, the highest priority it may ask for, and "
                    + "the priorities it may use. Never the key itself.")
    @ApiResponse(responseCode = "200", description = "The key")
    ResponseEntity<MeView> me(@Parameter(hidden = true) Caller caller) {
        Quota quota = caller.quota();
        List<Priority> allowed = Arrays.stream(Priority.values())
                .filter(p -> p.allowedBy(quota.maxPriority()))
                .toList();
        return ResponseEntity.ok()
                .cacheControl(CacheControl.noStore())
                .body(new MeView(
                        caller.name(),
                        new QuotaView(quota.maxQueued(), quota.maxRunning(), quota.weight(), quota.maxPriority()),
                        allowed));
    }

    /**
     * The calling key.
     *
     * @param name       its display name
     * @param quota      what it may use
     * @param priorities the priority classes its jobs may ask for, highest first
     */
    record MeView(String name, QuotaView quota, List<Priority> priorities) {

        MeView {
            priorities = List.copyOf(priorities);
        }
    }

    /**
     * A key's limits, defaults applied.
     *
     * @param maxQueued   jobs it may have waiting at once (more: 429)
     * @param maxRunning  GPU slots it may hold at once; 0 = no limit
     * @param weight      its fair-share weight (2 = twice the GPU time of a key with 1 while both wait)
     * @param maxPriority the highest priority class it may ask for
     */
    record QuotaView(int maxQueued, int maxRunning, double weight, Priority maxPriority) {}
}
