package io.forgequeue.gateway.job;

import io.forgequeue.gateway.apikey.Caller;
import io.forgequeue.gateway.system.ApiException;
import io.forgequeue.gateway.system.ApiProblem;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.security.SecurityRequirement;
import io.swagger.v3.oas.annotations.tags.Tag;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.springframework.http.CacheControl;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RequestHeader;
import org.springframework.web.bind.annotation.RestController;

/** {@code GET /api/v1/jobs/{id}/images/{n}}: the bytes of a result image; immutable once stored. */
@RestController
@Tag(name = "jobs")
@SecurityRequirement(name = "apiKey")
class ImageController {

    private final JobRepository jobs;

    ImageController(JobRepository jobs) {
        this.jobs = jobs;
    }

    @GetMapping("/api/v1/jobs/{id}/images/{index}")
    @Operation(
            summary = "Download a result image",
            description = "The image bytes with their content type "
                    + "(e.g. image/png), a strong ETag and immutable, private cache headers. If-None-Match gives 304.")
    @ApiResponse(responseCode = "200", description = "The image", content = @Content(mediaType = "image/png"))
    @ApiResponse(responseCode = "304", description = "Not modified (ETag matched)")
    @ApiResponse(
            responseCode = "404",
            description = "No such job, or no image with this index (yet)",
            content =
                    @Content(
                            mediaType = "application/problem+json",
                            schema = @Schema(implementation = org.springframework.http.ProblemDetail.class)))
    ResponseEntity<byte[]> image(
            @Parameter(hidden = true) Caller caller,
            @PathVariable UUID id,
            @PathVariable int index,
            @RequestHeader(name = HttpHeaders.IF_NONE_MATCH, required = false) String ifNoneMatch) {
        String wanted = ifNoneMatch == null
                ? null
                : ifNoneMatch.trim().replace("W/", "").replace("\"", "");
        JobRepository.ImageBytes image = jobs.image(caller.keyId(), id, index, wanted)
                .orElseThrow(() -> new ApiException(
                        ApiProblem.IMAGE_NOT_FOUND,
                        "Job " + id + " has no image " + index + ".",
                        List.of(),
                        Map.of("jobId", id),
                        HttpHeaders.EMPTY));
        CacheControl cache =
                CacheControl.maxAge(Duration.ofDays(365)).cachePrivate().immutable();
        if (image.data() == null) {
            return ResponseEntity.status(HttpStatus.NOT_MODIFIED)
                    .eTag(image.etag())
                    .cacheControl(cache)
                    .build();
        }
        return ResponseEntity.ok()
                .contentType(MediaType.parseMediaType(image.mimeType()))
                .eTag(image.etag())
                .cacheControl(cache)
                .body(image.data());
    }
}
