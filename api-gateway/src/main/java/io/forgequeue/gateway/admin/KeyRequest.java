package io.forgequeue.gateway.admin;

import io.forgequeue.gateway.apikey.NewKey;
import io.swagger.v3.oas.annotations.media.Schema;

/**
 * Body of {@code POST /api/v1/admin/keys}. Only {@code name} is required; a limit left out (or null) is the
 * gateway's default ({@code gateway.quotas.*}), now and after the default changes. Unknown fields are refused.
 *
 * @param name        display name, 1-100 characters
 * @param maxQueued   jobs the key may have waiting at once, 0-100000 (more is answered 429)
 * @param maxRunning  GPU slots (running or assigned jobs) it may hold at once, 1-10000
 * @param weight      fair-share weight, above 0 and at most 1000
 * @param maxPriority highest priority class its jobs may ask for: {@code high}, {@code normal} or {@code low}
 */
record KeyRequest(
        @Schema(requiredMode = Schema.RequiredMode.REQUIRED, example = "team-render")
        String name,

        @Schema(example = "50") Integer maxQueued,
        @Schema(example = "2") Integer maxRunning,
        @Schema(example = "1") Double weight,
        @Schema(allowableValues = {"high", "normal", "low"}) String maxPriority) {

    NewKey toNewKey() {
        return new NewKey(name, maxQueued, maxRunning, weight, maxPriority);
    }
}
