package io.forgequeue.gateway.job;

import io.forgequeue.gateway.apikey.Caller;
import io.forgequeue.gateway.system.ApiException;
import io.forgequeue.gateway.system.ApiProblem;
import io.forgequeue.gateway.system.FieldError;
import io.forgequeue.model.JobStatus;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.headers.Header;
import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.security.SecurityRequirement;
import io.swagger.v3.oas.annotations.tags.Tag;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.springframework.http.CacheControl;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.PutMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestHeader;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

/**
 * The jobs resource: submit, read, list and search, cancel (one or all waiting), hide from the history, erase a
 * finished job's data.
 */
@RestController
@RequestMapping("/api/v1/jobs")
@Tag(name = "jobs")
@SecurityRequirement(name = "apiKey")
@ApiResponse(
        responseCode = "401",
        description = "Missing or unknown API key",
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
class JobController {

    static final int MAX_PAGE = 100;
    static final int MAX_QUERY_CHARS = 200;

    private final JobService service;
    private final JobRepository jobs;
    private final JobViews views;
    private final KeyJobs keyJobs;

    JobController(JobService service, JobRepository jobs, JobViews views, KeyJobs keyJobs) {
        this.service = service;
        this.jobs = jobs;
        this.views = views;
        this.keyJobs = keyJobs;
    }

    @PostMapping(consumes = "application/json")
    @Operation(
            summary = "Submit a job",
            description = "Validates every field against the job limits, stores the "
                    + "job and queues it. With an Idempotency-Key, repeating the same request returns the same job "
                    + "(header Idempotent-Replayed: true).")
    @ApiResponse(
            responseCode = "202",
            description = "Accepted and queued",
            headers = {
                @Header(name = "Location", description = "URL of the job"),
                @Header(name = "Idempotent-Replayed", description = "true when an earlier submission was returned")
            })
    @ApiResponse(
            responseCode = "400",
            description = "Malformed JSON, a field of the wrong type, an unknown field, "
                    + "or an invalid Idempotency-Key (problem code malformed-request / invalid-parameter)",
            content =
                    @Content(
                            mediaType = "application/problem+json",
                            schema = @Schema(implementation = ProblemDetail.class)))
    @ApiResponse(
            responseCode = "413",
            description = "Body larger than the limit (payload-too-large)",
            content =
                    @Content(
                            mediaType = "application/problem+json",
                            schema = @Schema(implementation = ProblemDetail.class)))
    @ApiResponse(
            responseCode = "422",
            description =
                    "A field breaks a limit (validation-failed, with an errors "
                            + "array of {field, message}), or the Idempotency-Key was used for another job (idempotency-key-reused)",
            content =
                    @Content(
                            mediaType = "application/problem+json",
                            schema = @Schema(implementation = ProblemDetail.class)))
    @ApiResponse(
            responseCode = "429",
            description = "Too many jobs in flight for this key (too-many-jobs-in-flight); " + "see Retry-After",
            content =
                    @Content(
                            mediaType = "application/problem+json",
                            schema = @Schema(implementation = ProblemDetail.class)))
    ResponseEntity<JobView> submit(
            @Parameter(hidden = true) Caller caller,
            @RequestBody JobRequest request,
            @RequestHeader(name = "Idempotency-Key", required = false) String idempotencyKey) {
        JobService.Submission submission = service.submit(caller, request, idempotencyKey);
        return ResponseEntity.status(HttpStatus.ACCEPTED)
                .location(URI.create(JobViews.jobUrl(submission.job().id())))
                .header("Idempotent-Replayed", String.valueOf(submission.replayed()))
                .cacheControl(CacheControl.noStore())
                .body(submission.job());
    }

    @GetMapping("/{id}")
    @Operation(
            summary = "Get a job",
            description = "Full status: position and ETA while queued, progress while "
                    + "running, error code and message when failed, image links when succeeded.")
    @ApiResponse(responseCode = "200", description = "The job")
    @ApiResponse(
            responseCode = "404",
            description = "No such job among this key's jobs (job-not-found)",
            content =
                    @Content(
                            mediaType = "application/problem+json",
                            schema = @Schema(implementation = ProblemDetail.class)))
    ResponseEntity<JobView> get(@Parameter(hidden = true) Caller caller, @PathVariable UUID id) {
        return ResponseEntity.ok().cacheControl(CacheControl.noStore()).body(service.find(caller, id));
    }

    @GetMapping
    @Operation(
            summary = "List own jobs",
            description = "Newest first. Pass nextCursor as cursor for the next page; "
                    + "no nextCursor means the last page. Filters combine: status, q (the prompt contains it, ignoring case) "
                    + "and hidden (jobs hidden from the history are left out unless hidden=true).")
    @ApiResponse(responseCode = "200", description = "A page of jobs")
    @ApiResponse(
            responseCode = "400",
            description = "Invalid status, limit or cursor (invalid-parameter)",
            content =
                    @Content(
                            mediaType = "application/problem+json",
                            schema = @Schema(implementation = ProblemDetail.class)))
    ResponseEntity<JobPage> list(
            @Parameter(hidden = true) Caller caller,
            @Parameter(description = "Only jobs in these states (repeat or comma-separate)")
                    @RequestParam(name = "status", required = false)
                    List<String> status,
            @Parameter(description = "Page size, 1-100") @RequestParam(defaultValue = "20") int limit,
            @Parameter(description = "nextCursor of the previous page") @RequestParam(required = false) String cursor,
            @Parameter(
                            description = "Only jobs whose prompt contains this text, ignoring case " + "(at most "
                                    + MAX_QUERY_CHARS + " characters)")
                    @RequestParam(name = "q", required = false)
                    String query,
            @Parameter(description = "Also jobs hidden from the history")
                    @RequestParam(name = "hidden", defaultValue = "false")
                    boolean withHidden) {
        if (limit < 1 || limit > MAX_PAGE) {
            throw invalid("limit", "must be between 1 and " + MAX_PAGE);
        }
        String promptPart = query == null || query.isBlank() ? null : query.strip();
        if (promptPart != null && promptPart.length() > MAX_QUERY_CHARS) {
            throw invalid("q", "must be at most " + MAX_QUERY_CHARS + " characters");
        }
        Set<JobStatus> statuses = parseStatuses(status);
        long before = cursor == null || cursor.isBlank() ? Long.MAX_VALUE : decodeCursor(cursor);
        List<JobRow> page = jobs.list(caller.keyId(), statuses, promptPart, withHidden, before, limit + 1);
        List<JobView> items = new ArrayList<>();
        for (int i = 0; i < Math.min(limit, page.size()); i++) {
            items.add(views.toView(page.get(i)));
        }
        String next =
                page.size() > limit ? encodeCursor(items.get(items.size() - 1).ticket()) : null;
        return ResponseEntity.ok().cacheControl(CacheControl.noStore()).body(new JobPage(items, next));
    }

    @DeleteMapping("/{id}")
    @Operation(
            summary = "Cancel a job",
            description = "Idempotent, allowed in any state. A QUEUED job is "
                    + "CANCELLED at once (200). A RUNNING job is asked to stop: 202 while the worker has yet to confirm; the "
                    + "job becomes CANCELLED when it does (watch it over GET or WebSocket). A finished job is returned "
                    + "unchanged with 200.")
    @ApiResponse(responseCode = "200", description = "The job is now (or was already) in a terminal state")
    @ApiResponse(
            responseCode = "202",
            description = "Cancel requested; the job is still RUNNING until the worker stops it")
    @ApiResponse(
            responseCode = "404",
            description = "No such job among this key's jobs (job-not-found)",
            content =
                    @Content(
                            mediaType = "application/problem+json",
                            schema = @Schema(implementation = ProblemDetail.class)))
    ResponseEntity<JobView> cancel(@Parameter(hidden = true) Caller caller, @PathVariable UUID id) {
        JobService.Cancellation cancellation = service.cancel(caller, id);
        return ResponseEntity.status(cancellation.pending() ? HttpStatus.ACCEPTED : HttpStatus.OK)
                .cacheControl(CacheControl.noStore())
                .body(cancellation.job());
    }

    @DeleteMapping("/{id}/data")
    @Operation(
            summary = "Erase a finished job's prompt and images",
            description = "For privacy: deletes the job's "
                    + "images and replaces its prompt and negative prompt with empty strings, at once and for good. The job "
                    + "stays as a tombstone (id, ticket, status, times, the other settings, the error code), marked with "
                    + "dataErased {at, by: owner}; its error message becomes the code's default, its metadata keeps only "
                    + "the generation's settings (seed, model, sampler, ...). Idempotent: erasing again returns the same "
                    + "job unchanged. Only finished jobs (SUCCEEDED, FAILED, CANCELLED): cancel a QUEUED or RUNNING job first "
                    + "and erase it once it is CANCELLED. The gateway also erases every finished job's data by itself after "
                    + "its retention time (gateway.retention.after, 30 days by default).")
    @ApiResponse(responseCode = "200", description = "The job after the erasure (or as erased before)")
    @ApiResponse(
            responseCode = "404",
            description = "No such job among this key's jobs (job-not-found)",
            content =
                    @Content(
                            mediaType = "application/problem+json",
                            schema = @Schema(implementation = ProblemDetail.class)))
    @ApiResponse(
            responseCode = "409",
            description =
                    "The job is QUEUED or RUNNING (job-not-finished, with jobId and " + "status): cancel it first",
            content =
                    @Content(
                            mediaType = "application/problem+json",
                            schema = @Schema(implementation = ProblemDetail.class)))
    ResponseEntity<JobView> eraseData(@Parameter(hidden = true) Caller caller, @PathVariable UUID id) {
        return ResponseEntity.ok().cacheControl(CacheControl.noStore()).body(service.erase(caller, id));
    }

    @PostMapping("/cancel-waiting")
    @Operation(
            summary = "Cancel all own waiting jobs",
            description = "Every QUEUED job of the caller becomes "
                    + "CANCELLED in one step (also one already handed to a GPU that has not started it). Running jobs go on; "
                    + "cancel them one by one.")
    @ApiResponse(responseCode = "200", description = "How many jobs were cancelled")
    ResponseEntity<CancelledCount> cancelWaiting(@Parameter(hidden = true) Caller caller) {
        int cancelled = keyJobs.cancelWaitingOfOwner(caller.keyId());
        return ResponseEntity.ok().cacheControl(CacheControl.noStore()).body(new CancelledCount(cancelled));
    }

    @PutMapping("/{id}/hidden")
    @Operation(
            summary = "Hide a finished job from the history",
            description = "The job is left out of the list "
                    + "(unless hidden=true) and gets hiddenAt; it and its images stay readable by id. Idempotent. Open pages "
                    + "learn of it like any change (the version moves on).")
    @ApiResponse(responseCode = "200", description = "The job, hidden")
    @ApiResponse(
            responseCode = "404",
            description = "No such job among this key's jobs (job-not-found)",
            content =
                    @Content(
                            mediaType = "application/problem+json",
                            schema = @Schema(implementation = ProblemDetail.class)))
    @ApiResponse(
            responseCode = "409",
            description = "The job is still QUEUED or RUNNING (job-not-finished)",
            content =
                    @Content(
                            mediaType = "application/problem+json",
                            schema = @Schema(implementation = ProblemDetail.class)))
    ResponseEntity<JobView> hide(@Parameter(hidden = true) Caller caller, @PathVariable UUID id) {
        return ResponseEntity.ok().cacheControl(CacheControl.noStore()).body(service.hide(caller, id, true));
    }

    @DeleteMapping("/{id}/hidden")
    @Operation(summary = "Show a hidden job in the history again", description = "Undoes a hide. Idempotent.")
    @ApiResponse(responseCode = "200", description = "The job, shown")
    @ApiResponse(
            responseCode = "404",
            description = "No such job among this key's jobs (job-not-found)",
            content =
                    @Content(
                            mediaType = "application/problem+json",
                            schema = @Schema(implementation = ProblemDetail.class)))
    ResponseEntity<JobView> unhide(@Parameter(hidden = true) Caller caller, @PathVariable UUID id) {
        return ResponseEntity.ok().cacheControl(CacheControl.noStore()).body(service.hide(caller, id, false));
    }

    /**
     * The answer of cancel-waiting.
     *
     * @param cancelled how many waiting jobs were cancelled
     */
    record CancelledCount(int cancelled) {}

    /**
     * A page of jobs.
     *
     * @param items      newest first
     * @param nextCursor pass as {@code cursor} for the next page; absent on the last page
     */
    record JobPage(List<JobView> items, String nextCursor) {}

    private static Set<JobStatus> parseStatuses(List<String> raw) {
        Set<JobStatus> out = EnumSet.noneOf(JobStatus.class);
        if (raw == null) {
            return out;
        }
        for (String part : raw) {
            for (String s : part.split(",")) {
                if (s.isBlank()) {
                    continue;
                }
                try {
                    out.add(JobStatus.valueOf(s.trim().toUpperCase(Locale.ROOT)));
                } catch (IllegalArgumentException e) {
                    throw invalid("status", "must be one of " + List.of(JobStatus.values()));
                }
            }
        }
        return out;
    }

    private static String encodeCursor(long ticket) {
        return Base64.getUrlEncoder()
                .withoutPadding()
                .encodeToString(("t" + ticket).getBytes(StandardCharsets.US_ASCII));
    }

    private static long decodeCursor(String cursor) {
        try {
            String text = new String(Base64.getUrlDecoder().decode(cursor), StandardCharsets.US_ASCII);
            if (text.startsWith("t")) {
                return Long.parseLong(text.substring(1));
            }
        } catch (IllegalArgumentException e) {
            // falls through
        }
        throw invalid("cursor", "is not a cursor returned by this API");
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
