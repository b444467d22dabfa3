package io.forgequeue.forgesim;

import java.util.Map;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * An error answer in one of Forge's three shapes (forge-api.md section 8): a Python exception (500,
 * {@code {"error","detail","body","message"}}), a FastAPI {@code HTTPException} ({@code {"detail": "..."}}) or a
 * pydantic v2 validation failure (422, {@code {"detail": [...]}}).
 */
final class ApiError extends RuntimeException {

    private final int status;

    private final transient JsonNode body;

    private final transient Map<String, String> headers;

    private final String pythonClass;

    private ApiError(int status, JsonNode body, Map<String, String> headers, String pythonClass, String message) {
        super(message, null, false, false);
        this.status = status;
        this.body = body;
        this.headers = headers;
        this.pythonClass = pythonClass;
    }

    /** An unhandled Python exception, e.g. {@code python("OutOfMemoryError", "CUDA out of memory. ...")}. */
    static ApiError python(String exceptionClass, String message) {
        ObjectNode body = Json.object();
        body.put("error", exceptionClass);
        body.put("detail", "");
        body.put("body", "");
        body.put("message", message);
        return new ApiError(500, body, Map.of(), exceptionClass, message);
    }

    /** A FastAPI {@code HTTPException(status_code, detail)}. */
    static ApiError http(int status, String detail) {
        return http(status, detail, Map.of());
    }

    static ApiError http(int status, String detail, Map<String, String> headers) {
        ObjectNode body = Json.object();
        body.put("detail", detail);
        return new ApiError(status, body, headers, "HTTPException", detail);
    }

    /** A {@code RequestValidationError}: 422 with pydantic v2 error objects. */
    static ApiError validation(ArrayNode errors) {
        ObjectNode body = Json.object();
        body.set("detail", errors);
        return new ApiError(422, body, Map.of(), "RequestValidationError", "validation failed");
    }

    int status() {
        return status;
    }

    JsonNode body() {
        return body;
    }

    Map<String, String> headers() {
        return headers;
    }

    String pythonClass() {
        return pythonClass;
    }
}
