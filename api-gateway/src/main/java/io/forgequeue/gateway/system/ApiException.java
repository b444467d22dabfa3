package io.forgequeue.gateway.system;

import java.util.List;
import java.util.Map;
import org.springframework.http.HttpHeaders;
import org.springframework.http.ProblemDetail;
import org.springframework.web.ErrorResponseException;

/** An error the API reports as a problem detail of a stable {@link ApiProblem} kind. */
public class ApiException extends ErrorResponseException {

    private final ApiProblem problem;

    public ApiException(ApiProblem problem, String detail) {
        this(problem, detail, List.of(), Map.of(), HttpHeaders.EMPTY);
    }

    public ApiException(
            ApiProblem problem,
            String detail,
            List<FieldError> errors,
            Map<String, Object> extras,
            HttpHeaders headers) {
        super(problem.status(), build(problem, detail, errors, extras), null);
        this.problem = problem;
        getHeaders().addAll(headers);
    }

    private static ProblemDetail build(
            ApiProblem problem, String detail, List<FieldError> errors, Map<String, Object> extras) {
        ProblemDetail body = problem.toProblem(detail);
        if (!errors.isEmpty()) {
            body.setProperty("errors", List.copyOf(errors));
        }
        extras.forEach(body::setProperty);
        return body;
    }

    public ApiProblem problem() {
        return problem;
    }
}
