package io.forgequeue.gateway.system;

import jakarta.servlet.RequestDispatcher;
import jakarta.servlet.http.HttpServletRequest;
import java.net.URI;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.webmvc.error.ErrorController;
import org.springframework.http.MediaType;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * The container's error page ({@code /error}): errors that never reached a controller (no handler for the path,
 * an unsupported method or content type found while choosing the handler, a failure inside a filter) are answered
 * with the same problem details as everything else, never with a stack trace.
 */
@RestController
class ErrorFallbackController implements ErrorController {

    private static final Logger log = LoggerFactory.getLogger(ErrorFallbackController.class);

    @RequestMapping("${server.error.path:/error}")
    ResponseEntity<ProblemDetail> error(HttpServletRequest request) {
        Object code = request.getAttribute(RequestDispatcher.ERROR_STATUS_CODE);
        int status = code instanceof Integer i ? i : 500;
        Object failure = request.getAttribute(RequestDispatcher.ERROR_EXCEPTION);
        if (status >= 500 && failure instanceof Throwable t) {
            log.error("Unexpected error outside the controllers", t);
        }
        ApiProblem kind = ApiProblem.forStatus(status, ApiProblem.INTERNAL_ERROR);
        ProblemDetail problem = kind.toProblem(
                kind == ApiProblem.INTERNAL_ERROR ? "An unexpected error occurred." : kind.title() + ".");
        problem.setStatus(status);
        Object uri = request.getAttribute(RequestDispatcher.ERROR_REQUEST_URI);
        if (uri instanceof String path) {
            problem.setInstance(URI.create(path));
        }
        return ResponseEntity.status(status)
                .contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .body(problem);
    }
}
