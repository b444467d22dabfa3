package io.forgequeue.gateway.admin;

import io.swagger.v3.oas.annotations.media.Schema;

/**
 * Body of {@code PATCH /api/v1/admin/keys/{id}}, a JSON merge patch (RFC 7396): a member left out stays as it is;
 * a member set to {@code null} goes back to the gateway's default ({@code gateway.quotas.*}); any other value is
 * the new one (bounds as when creating a key). {@code name} cannot be null. This record only describes the body for
 * the OpenAPI document: the controller reads the JSON itself, to tell a missing member from a null one.
 */
@Schema(description = "JSON merge patch: a member left out stays; null = back to the gateway's default")
record KeyChangeRequest(
        @Schema(example = "team-render") String name,
        @Schema(example = "100", nullable = true) Integer maxQueued,
        @Schema(example = "4", nullable = true) Integer maxRunning,
        @Schema(example = "2", nullable = true) Double weight,

        @Schema(
                allowableValues = {"high", "normal", "low"},
                nullable = true)
        String maxPriority) {}
