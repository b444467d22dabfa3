package io.forgequeue.gateway.system;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.TypeMismatchException;
import org.springframework.dao.DataAccessException;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.http.converter.HttpMessageNotReadableException;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import org.springframework.web.context.request.WebRequest;
import org.springframework.web.method.annotation.MethodArgumentTypeMismatchException;
import org.springframework.web.servlet.mvc.method.annotation.ResponseEntityExceptionHandler;
import tools.jackson.core.JacksonException;
import tools.jackson.core.exc.StreamReadException;
import tools.jackson.databind.exc.MismatchedInputException;
import tools.jackson.databind.exc.UnrecognizedPropertyException;

/**
 * Turns every error of the HTTP API into an RFC 9457 problem detail with a stable {@code type} URI and
 * {@code code} ({@link ApiProblem}). Never puts a stack trace, an exception message of a library or SQL into a
 * response: unexpected failures are logged and answered with a generic 500, an unreachable database with 503.
 */
@RestControllerAdvice
class ProblemResponseAdvice extends ResponseEntityExceptionHandler {

    private static final Logger log = LoggerFactory.getLogger(ProblemResponseAdvice.class);

    @Override
    protected ResponseEntity<Object> handleHttpMessageNotReadable(
            HttpMessageNotReadableException ex, HttpHeaders headers, HttpStatusCode status, WebRequest request) {
        if (findCause(ex, BodySizeLimitFilter.PayloadTooLargeException.class) != null) {
            return problem(
                    ApiProblem.PAYLOAD_TOO_LARGE,
                    findCause(ex, BodySizeLimitFilter.PayloadTooLargeException.class)
                            .getMessage(),
                    List.of());
        }
        if (findCause(ex, Utf8BodyFilter.MalformedUtf8Exception.class) != null) {
            return problem(
                    ApiProblem.MALFORMED_REQUEST,
                    findCause(ex, Utf8BodyFilter.MalformedUtf8Exception.class).getMessage(),
                    List.of());
        }
        JacksonException json = findCause(ex, JacksonException.class);
        if (json == null) {
            return problem(ApiProblem.MALFORMED_REQUEST, "A JSON request body is required.", List.of());
        }
        List<FieldError> errors = fieldErrors(json);
        String detail = errors.isEmpty()
                ? "The request body is not valid JSON" + location(json) + "."
                : "The request body has fields of the wrong type or unknown fields.";
        return problem(ApiProblem.MALFORMED_REQUEST, detail, errors);
    }

    @Override
    protected ResponseEntity<Object> handleTypeMismatch(
            TypeMismatchException ex, HttpHeaders headers, HttpStatusCode status, WebRequest request) {
        if (ex instanceof MethodArgumentTypeMismatchException m
                && m.getParameter()
                        .hasParameterAnnotation(org.springframework.web.bind.annotation.PathVariable.class)) {
            // A malformed id can name no job: the same answer as an unknown one.
            return problem(ApiProblem.JOB_NOT_FOUND, "No such job.", List.of());
        }
        String name = ex.getPropertyName() == null ? "parameter" : ex.getPropertyName();
        return problem(
                ApiProblem.INVALID_PARAMETER,
                "Invalid value of " + name + ".",
                List.of(new FieldError(name, "has an invalid value")));
    }

    @ExceptionHandler(BodySizeLimitFilter.PayloadTooLargeException.class)
    ResponseEntity<Object> tooLarge(BodySizeLimitFilter.PayloadTooLargeException ex) {
        return problem(ApiProblem.PAYLOAD_TOO_LARGE, ex.getMessage(), List.of());
    }

    @ExceptionHandler(Utf8BodyFilter.MalformedUtf8Exception.class)
    ResponseEntity<Object> notUtf8(Utf8BodyFilter.MalformedUtf8Exception ex) {
        return problem(ApiProblem.MALFORMED_REQUEST, ex.getMessage(), List.of());
    }

    @ExceptionHandler(DataAccessException.class)
    ResponseEntity<Object> database(DataAccessException ex) {
        if (DatabaseFailures.isUnavailable(ex)) {
            log.warn("Database unavailable: {}", ex.getClass().getSimpleName());
            return unavailable();
        }
        log.error("Database error", ex);
        return problem(ApiProblem.INTERNAL_ERROR, "An unexpected error occurred.", List.of());
    }

    @ExceptionHandler(Exception.class)
    ResponseEntity<Object> unexpected(Exception ex) {
        if (DatabaseFailures.isUnavailable(ex)) {
            // e.g. CannotCreateTransactionException (not a DataAccessException) from a transaction template
            log.warn("Database unavailable: {}", ex.getClass().getSimpleName());
            return unavailable();
        }
        log.error("Unexpected error", ex);
        return problem(ApiProblem.INTERNAL_ERROR, "An unexpected error occurred.", List.of());
    }

    static ResponseEntity<Object> unavailable() {
        ProblemDetail body = ApiProblem.SERVICE_UNAVAILABLE.toProblem(
                "The job database cannot be reached. Nothing was stored; please retry shortly.");
        return ResponseEntity.status(body.getStatus())
                .header(HttpHeaders.RETRY_AFTER, "5")
                .body(body);
    }

    /** Gives every problem built by Spring itself (405, 406, 415, 404 ...) our type, title and code. */
    @Override
    protected ResponseEntity<Object> createResponseEntity(
            Object body, HttpHeaders headers, HttpStatusCode statusCode, WebRequest request) {
        if (body instanceof ProblemDetail problem
                && (problem.getProperties() == null || !problem.getProperties().containsKey("code"))) {
            ApiProblem kind = ApiProblem.forStatus(statusCode.value(), ApiProblem.INTERNAL_ERROR);
            problem.setType(kind.type());
            problem.setTitle(kind.title());
            problem.setProperty("code", kind.code());
            if (kind == ApiProblem.INTERNAL_ERROR) {
                problem.setDetail("An unexpected error occurred.");
            }
        }
        return super.createResponseEntity(body, headers, statusCode, request);
    }

    private static ResponseEntity<Object> problem(ApiProblem kind, String detail, List<FieldError> errors) {
        ApiException ex = new ApiException(kind, detail, errors, Map.of(), HttpHeaders.EMPTY);
        return ResponseEntity.status(kind.status()).body(ex.getBody());
    }

    static List<FieldError> fieldErrors(JacksonException ex) {
        List<FieldError> out = new ArrayList<>();
        String path = path(ex);
        if (ex instanceof UnrecognizedPropertyException) {
            out.add(new FieldError(path, "is not a known field"));
        } else if (ex instanceof MismatchedInputException mismatch && !path.isEmpty()) {
            out.add(new FieldError(path, "must be " + describe(mismatch.getTargetType())));
        } else if (!(ex instanceof StreamReadException) && !path.isEmpty()) {
            out.add(new FieldError(path, "has an invalid value"));
        } else if (ex instanceof StreamReadException && !path.isEmpty()) {
            out.add(new FieldError(path, "has an invalid value (out of range or malformed)"));
        }
        return out;
    }

    private static String path(JacksonException ex) {
        StringBuilder sb = new StringBuilder();
        for (JacksonException.Reference ref : ex.getPath()) {
            if (ref.getPropertyName() != null) {
                if (!sb.isEmpty()) {
                    sb.append('.');
                }
                sb.append(ref.getPropertyName());
            } else if (ref.getIndex() >= 0) {
                sb.append('[').append(ref.getIndex()).append(']');
            }
        }
        return sb.toString();
    }

    private static String describe(Class<?> type) {
        if (type == null) {
            return "of another type";
        }
        if (type == Integer.class || type == int.class || type == Long.class || type == long.class) {
            return "an integer";
        }
        if (type == Double.class || type == double.class) {
            return "a number";
        }
        if (type == String.class) {
            return "a string";
        }
        if (type == Boolean.class || type == boolean.class) {
            return "true or false";
        }
        return "a JSON " + (type.isArray() || List.class.isAssignableFrom(type) ? "array" : "object");
    }

    private static String location(JacksonException ex) {
        return ex.getLocation() == null || ex.getLocation().getLineNr() < 0
                ? ""
                : " (line " + ex.getLocation().getLineNr() + ", column "
                        + ex.getLocation().getColumnNr() + ")";
    }

    private static <T extends Throwable> T findCause(Throwable ex, Class<T> type) {
        for (Throwable t = ex; t != null; t = t.getCause()) {
            if (type.isInstance(t)) {
                return type.cast(t);
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return null;
    }
}
