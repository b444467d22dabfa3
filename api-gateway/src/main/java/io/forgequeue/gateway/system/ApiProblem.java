package io.forgequeue.gateway.system;

import java.net.URI;
import java.util.Locale;
import org.springframework.http.HttpStatus;
import org.springframework.http.ProblemDetail;

/**
 * Every kind of error the HTTP API answers with, as RFC 9457 problem details. The {@code code} (and the last
 * segment of the {@code type} URI) is stable: clients may branch on it. Never rename one, only add.
 */
public enum ApiProblem {

    /** The body is not JSON, or a field has the wrong JSON type, or a field is unknown. */
    MALFORMED_REQUEST(HttpStatus.BAD_REQUEST, "Malformed request"),
    /** The body is well-formed JSON but breaks the job limits. */
    VALIDATION_FAILED(HttpStatus.UNPROCESSABLE_CONTENT, "Invalid job"),
    /** A query parameter or header has an invalid value. */
    INVALID_PARAMETER(HttpStatus.BAD_REQUEST, "Invalid parameter"),
    /** No API key, or one that is unknown. */
    UNAUTHORIZED(HttpStatus.UNAUTHORIZED, "Missing or invalid API key"),
    /** No job with this id among the caller's jobs. */
    JOB_NOT_FOUND(HttpStatus.NOT_FOUND, "Job not found"),
    /**
     * The job is not finished (QUEUED or RUNNING), so its data cannot be erased yet, nor can it be hidden from the
     * history: cancel it first.
     */
    JOB_NOT_FINISHED(HttpStatus.CONFLICT, "Job not finished"),
    /** The job has no image with this index (yet). */
    IMAGE_NOT_FOUND(HttpStatus.NOT_FOUND, "Image not found"),
    /** No such resource. */
    NOT_FOUND(HttpStatus.NOT_FOUND, "Not found"),
    /** The HTTP method is not supported on this resource. */
    METHOD_NOT_ALLOWED(HttpStatus.METHOD_NOT_ALLOWED, "Method not allowed"),
    /** The body's content type is not supported. */
    UNSUPPORTED_MEDIA_TYPE(HttpStatus.UNSUPPORTED_MEDIA_TYPE, "Unsupported media type"),
    /** None of the accepted response types can be produced. */
    NOT_ACCEPTABLE(HttpStatus.NOT_ACCEPTABLE, "Not acceptable"),
    /** The body is larger than the configured limit. */
    PAYLOAD_TOO_LARGE(HttpStatus.CONTENT_TOO_LARGE, "Request body too large"),
    /** The key already has as many jobs waiting as its quota allows ({@code maxQueued}). */
    TOO_MANY_JOBS_IN_FLIGHT(HttpStatus.TOO_MANY_REQUESTS, "Too many jobs in flight"),
    /** The key sent more requests than its rate limit allows ({@code gateway.rate-limits.requests}); see Retry-After. */
    RATE_LIMITED(HttpStatus.TOO_MANY_REQUESTS, "Too many requests"),
    /** The key may not ask for this priority class (its quota's {@code maxPriority} is lower). */
    PRIORITY_NOT_ALLOWED(HttpStatus.FORBIDDEN, "Priority not allowed for this key"),
    /** The Idempotency-Key was used before with a different request body. */
    IDEMPOTENCY_KEY_REUSED(HttpStatus.UNPROCESSABLE_CONTENT, "Idempotency key reused with a different request"),
    /** Admin API: no admin token, or one that is not configured ({@code gateway.admin.tokens}). */
    ADMIN_UNAUTHORIZED(HttpStatus.UNAUTHORIZED, "Missing or invalid admin token"),
    /** Admin API: the credential is an API key for jobs; the admin API takes only admin tokens. */
    ADMIN_FORBIDDEN(HttpStatus.FORBIDDEN, "Not an admin credential"),
    /** Admin API: this gateway has no admin token configured, so the admin API is off. */
    ADMIN_API_DISABLED(HttpStatus.FORBIDDEN, "Admin API disabled"),
    /** Admin API: no API key with this id. */
    KEY_NOT_FOUND(HttpStatus.NOT_FOUND, "API key not found"),
    /** Admin API: the key's name or a limit is out of bounds (see {@code errors}). */
    INVALID_KEY_SETTINGS(HttpStatus.UNPROCESSABLE_CONTENT, "Invalid key settings"),
    /** The database cannot be reached; nothing was stored. */
    SERVICE_UNAVAILABLE(HttpStatus.SERVICE_UNAVAILABLE, "Service temporarily unavailable"),
    /** Anything unexpected; details are in the server log, never in the response. */
    INTERNAL_ERROR(HttpStatus.INTERNAL_SERVER_ERROR, "Internal error");

    /** Base of every {@code type} URI. */
    public static final String TYPE_BASE = "https://forgequeue.io/problems/";

    private final HttpStatus status;
    private final String title;

    ApiProblem(HttpStatus status, String title) {
        this.status = status;
        this.title = title;
    }

    public HttpStatus status() {
        return status;
    }

    /** The stable code, e.g. {@code job-not-found}. */
    public String code() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    public URI type() {
        return URI.create(TYPE_BASE + code());
    }

    public String title() {
        return title;
    }

    /**
     * The generic kind for an error status the container or the framework produced on its own (no controller
     * chose one): 400, 401, 404, 405, 406, 413, 415, 503, else {@code otherwise}.
     */
    public static ApiProblem forStatus(int status, ApiProblem otherwise) {
        return switch (status) {
            case 400 -> MALFORMED_REQUEST;
            case 401 -> UNAUTHORIZED;
            case 404 -> NOT_FOUND;
            case 405 -> METHOD_NOT_ALLOWED;
            case 406 -> NOT_ACCEPTABLE;
            case 413 -> PAYLOAD_TOO_LARGE;
            case 415 -> UNSUPPORTED_MEDIA_TYPE;
            case 503 -> SERVICE_UNAVAILABLE;
            default -> otherwise;
        };
    }

    /** A problem detail of this kind with {@code type}, {@code title}, {@code status}, {@code detail} and {@code code}. */
    public ProblemDetail toProblem(String detail) {
        ProblemDetail problem = ProblemDetail.forStatusAndDetail(status, detail);
        problem.setType(type());
        problem.setTitle(title);
        problem.setProperty("code", code());
        return problem;
    }
}
