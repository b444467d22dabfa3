package io.forgequeue.gateway.admin;

import io.forgequeue.gateway.apikey.KeyAdministration;
import io.forgequeue.gateway.apikey.KeyChange;
import io.forgequeue.gateway.apikey.KeyChange.Setting;
import io.forgequeue.gateway.apikey.KeyList;
import io.forgequeue.gateway.apikey.ManagedKey;
import io.forgequeue.gateway.job.KeyJobs;
import io.forgequeue.gateway.system.ApiException;
import io.forgequeue.gateway.system.ApiProblem;
import io.forgequeue.gateway.system.FieldError;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.headers.Header;
import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.security.SecurityRequirement;
import io.swagger.v3.oas.annotations.tags.Tag;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.springframework.http.CacheControl;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PatchMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import tools.jackson.databind.JsonNode;

/** The admin API for API keys: create (the secret is shown once), list, read, change limits, disable, enable. */
@RestController
@RequestMapping("/api/v1/admin/keys")
@Tag(
        name = "admin",
        description = "API keys and their limits. Needs an admin token (gateway.admin.tokens), never " + "an API key.")
@SecurityRequirement(name = "adminToken")
@ApiResponse(
        responseCode = "401",
        description = "No admin token, or not a valid one (admin-unauthorized)",
        content =
                @Content(
                        mediaType = "application/problem+json",
                        schema = @Schema(implementation = ProblemDetail.class)))
@ApiResponse(
        responseCode = "403",
        description = "An API key instead of an admin token (admin-forbidden), or no "
                + "admin token configured on this gateway (admin-api-disabled)",
        content =
                @Content(
                        mediaType = "application/problem+json",
                        schema = @Schema(implementation = ProblemDetail.class)))
@ApiResponse(
        responseCode = "503",
        description = "Database unreachable; nothing was changed",
        content =
                @Content(
                        mediaType = "application/problem+json",
                        schema = @Schema(implementation = ProblemDetail.class)))
class AdminKeyController {

    static final int MAX_PAGE = 100;
    private static final Set<String> CHANGEABLE = Set.of("name", "maxQueued", "maxRunning", "weight", "maxPriority");

    private final KeyAdministration keys;
    private final KeyJobs jobs;

    AdminKeyController(KeyAdministration keys, KeyJobs jobs) {
        this.keys = keys;
        this.jobs = jobs;
    }

    @PostMapping(consumes = "application/json")
    @Operation(
            summary = "Create an API key",
            description = "Makes a new key with a random secret (`fq_` and 32 "
                    + "letters or digits, about 190 bits). The secret is in this response only: the gateway stores its "
                    + "SHA-256 hash and its first characters (`prefix`), never the secret, and cannot show it again.")
    @ApiResponse(
            responseCode = "201",
            description = "Created; `secret` is the key to hand to its owner",
            headers = @Header(name = "Location", description = "URL of the key"))
    @ApiResponse(
            responseCode = "400",
            description = "Malformed JSON, a field of the wrong type or an unknown field " + "(malformed-request)",
            content =
                    @Content(
                            mediaType = "application/problem+json",
                            schema = @Schema(implementation = ProblemDetail.class)))
    @ApiResponse(
            responseCode = "422",
            description = "A name or limit out of bounds (invalid-key-settings, with an "
                    + "errors array of {field, message})",
            content =
                    @Content(
                            mediaType = "application/problem+json",
                            schema = @Schema(implementation = ProblemDetail.class)))
    ResponseEntity<CreatedKeyView> create(@RequestBody KeyRequest request) {
        CreatedKeyView created = CreatedKeyView.of(keys.create(request.toNewKey()));
        return ResponseEntity.status(HttpStatus.CREATED)
                .location(URI.create("/api/v1/admin/keys/" + created.id()))
                .cacheControl(CacheControl.noStore())
                .body(created);
    }

    @GetMapping
    @Operation(summary = "List API keys", description = "Newest first, disabled ones included.")
    @ApiResponse(responseCode = "200", description = "A page of keys")
    @ApiResponse(
            responseCode = "400",
            description = "Invalid page or size (invalid-parameter)",
            content =
                    @Content(
                            mediaType = "application/problem+json",
                            schema = @Schema(implementation = ProblemDetail.class)))
    ResponseEntity<KeyPage> list(
            @Parameter(description = "Page number, from 0") @RequestParam(defaultValue = "0") int page,
            @Parameter(description = "Page size, 1-100") @RequestParam(defaultValue = "20") int size) {
        if (page < 0) {
            throw invalid("page", "must be 0 or more");
        }
        if (size < 1 || size > MAX_PAGE) {
            throw invalid("size", "must be between 1 and " + MAX_PAGE);
        }
        KeyList list = keys.list(page, size);
        List<KeyView> items = list.items().stream().map(KeyView::of).toList();
        long pages = (list.totalItems() + size - 1) / size;
        return ResponseEntity.ok()
                .cacheControl(CacheControl.noStore())
                .body(new KeyPage(items, page, size, list.totalItems(), pages));
    }

    @GetMapping("/{id}")
    @Operation(
            summary = "Get an API key",
            description = "Its name, prefix, state, own limits and the limits that " + "apply. Never the secret.")
    @ApiResponse(responseCode = "200", description = "The key")
    @ApiResponse(
            responseCode = "404",
            description = "No such key (key-not-found)",
            content =
                    @Content(
                            mediaType = "application/problem+json",
                            schema = @Schema(implementation = ProblemDetail.class)))
    ResponseEntity<KeyView> get(@PathVariable String id) {
        UUID keyId = parseId(id);
        ManagedKey key = keys.find(keyId).orElseThrow(() -> KeyAdministration.notFound(keyId));
        return ResponseEntity.ok().cacheControl(CacheControl.noStore()).body(KeyView.of(key));
    }

    @PatchMapping(
            value = "/{id}",
            consumes = {"application/merge-patch+json", "application/json"})
    @Operation(
            summary = "Change an API key's name or limits",
            description =
                    "A JSON merge patch (RFC 7396): "
                            + "members left out stay as they are; a limit set to null goes back to the gateway's default. Applies on "
                            + "every gateway at once (their cached copies are dropped); jobs already queued keep their priority.",
            requestBody =
                    @io.swagger.v3.oas.annotations.parameters.RequestBody(
                            content = {
                                @Content(
                                        mediaType = "application/merge-patch+json",
                                        schema = @Schema(implementation = KeyChangeRequest.class)),
                                @Content(
                                        mediaType = "application/json",
                                        schema = @Schema(implementation = KeyChangeRequest.class))
                            }))
    @ApiResponse(responseCode = "200", description = "The key after the change")
    @ApiResponse(
            responseCode = "400",
            description = "Not a JSON object, a member of the wrong type or an unknown " + "member (malformed-request)",
            content =
                    @Content(
                            mediaType = "application/problem+json",
                            schema = @Schema(implementation = ProblemDetail.class)))
    @ApiResponse(
            responseCode = "404",
            description = "No such key (key-not-found)",
            content =
                    @Content(
                            mediaType = "application/problem+json",
                            schema = @Schema(implementation = ProblemDetail.class)))
    @ApiResponse(
            responseCode = "422",
            description = "A name or limit out of bounds (invalid-key-settings)",
            content =
                    @Content(
                            mediaType = "application/problem+json",
                            schema = @Schema(implementation = ProblemDetail.class)))
    ResponseEntity<KeyView> change(@PathVariable String id, @RequestBody JsonNode body) {
        UUID keyId = parseId(id);
        ManagedKey key = keys.change(keyId, readChange(body));
        return ResponseEntity.ok().cacheControl(CacheControl.noStore()).body(KeyView.of(key));
    }

    @PostMapping("/{id}/disable")
    @Operation(
            summary = "Disable an API key",
            description =
                    "From now on the key is refused (401) on every gateway, "
                            + "and every gateway closes its open WebSocket sessions (an error frame key-disabled, then close code "
                            + "4401) within a second. Its running jobs go on; its waiting jobs stay queued, or are cancelled with "
                            + "cancelQueued=true. Disabling a disabled key changes nothing (but still cancels with cancelQueued=true).")
    @ApiResponse(responseCode = "200", description = "The key, disabled, and how many waiting jobs were cancelled")
    @ApiResponse(
            responseCode = "404",
            description = "No such key (key-not-found)",
            content =
                    @Content(
                            mediaType = "application/problem+json",
                            schema = @Schema(implementation = ProblemDetail.class)))
    ResponseEntity<DisabledKeyView> disable(
            @PathVariable String id,
            @Parameter(description = "Also cancel the key's QUEUED jobs") @RequestParam(defaultValue = "false")
                    boolean cancelQueued) {
        UUID keyId = parseId(id);
        ManagedKey key = keys.disable(keyId);
        int cancelled = cancelQueued ? jobs.cancelQueued(keyId) : 0;
        return ResponseEntity.ok()
                .cacheControl(CacheControl.noStore())
                .body(new DisabledKeyView(KeyView.of(key), cancelled));
    }

    @PostMapping("/{id}/enable")
    @Operation(
            summary = "Enable a disabled API key",
            description = "The same secret works again, on every gateway "
                    + "at once. Jobs cancelled when it was disabled stay cancelled.")
    @ApiResponse(responseCode = "200", description = "The key, enabled")
    @ApiResponse(
            responseCode = "404",
            description = "No such key (key-not-found)",
            content =
                    @Content(
                            mediaType = "application/problem+json",
                            schema = @Schema(implementation = ProblemDetail.class)))
    ResponseEntity<KeyView> enable(@PathVariable String id) {
        ManagedKey key = keys.enable(parseId(id));
        return ResponseEntity.ok().cacheControl(CacheControl.noStore()).body(KeyView.of(key));
    }

    /** Reads a merge patch, telling a member left out (null here) from a member set to null (a null setting). */
    static KeyChange readChange(JsonNode body) {
        if (body == null || !body.isObject()) {
            throw malformed("The request body must be a JSON object.", List.of());
        }
        List<FieldError> errors = new ArrayList<>();
        for (Map.Entry<String, JsonNode> member : body.properties()) {
            if (!CHANGEABLE.contains(member.getKey())) {
                errors.add(new FieldError(member.getKey(), "is not a known field"));
            }
        }
        String name = null;
        if (body.has("name")) {
            JsonNode value = body.get("name");
            if (value.isString()) {
                name = value.stringValue();
            } else {
                errors.add(new FieldError("name", "must be a string"));
            }
        }
        Setting<Integer> maxQueued = integer(body, "maxQueued", errors);
        Setting<Integer> maxRunning = integer(body, "maxRunning", errors);
        Setting<Double> weight = null;
        if (body.has("weight")) {
            JsonNode value = body.get("weight");
            if (value.isNull()) {
                weight = Setting.byDefault();
            } else if (value.isNumber()) {
                weight = Setting.of(value.doubleValue());
            } else {
                errors.add(new FieldError("weight", "must be a number or null"));
            }
        }
        Setting<String> maxPriority = null;
        if (body.has("maxPriority")) {
            JsonNode value = body.get("maxPriority");
            if (value.isNull()) {
                maxPriority = Setting.byDefault();
            } else if (value.isString()) {
                maxPriority = Setting.of(value.stringValue());
            } else {
                errors.add(new FieldError("maxPriority", "must be a string or null"));
            }
        }
        if (!errors.isEmpty()) {
            throw malformed("The request body has fields of the wrong type or unknown fields.", errors);
        }
        return new KeyChange(name, maxQueued, maxRunning, weight, maxPriority);
    }

    private static Setting<Integer> integer(JsonNode body, String field, List<FieldError> errors) {
        if (!body.has(field)) {
            return null;
        }
        JsonNode value = body.get(field);
        if (value.isNull()) {
            return Setting.byDefault();
        }
        if (!value.isIntegralNumber()) {
            errors.add(new FieldError(field, "must be an integer or null"));
            return null;
        }
        // out of int range: kept out of range, so the bounds check names the field
        return Setting.of(
                value.canConvertToInt()
                        ? value.intValue()
                        : value.bigIntegerValue().signum() < 0 ? Integer.MIN_VALUE : Integer.MAX_VALUE);
    }

    private static UUID parseId(String id) {
        try {
            return UUID.fromString(id);
        } catch (IllegalArgumentException e) {
            // a malformed id names no key: the same answer as an unknown one
            throw KeyAdministration.notFound(null);
        }
    }

    private static ApiException malformed(String detail, List<FieldError> errors) {
        return new ApiException(ApiProblem.MALFORMED_REQUEST, detail, errors, Map.of(), HttpHeaders.EMPTY);
    }

    private static ApiException invalid(String field, String message) {
        return new ApiException(
                ApiProblem.INVALID_PARAMETER,
                "Invalid value of " + field + ".",
                List.of(new FieldError(field, message)),
                Map.of(),
                HttpHeaders.EMPTY);
    }
}
