package io.forgequeue.gateway.system;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpMethod;
import org.springframework.http.HttpStatus;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.MediaType;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.mock.web.MockHttpServletRequest;
import org.springframework.web.HttpMediaTypeNotAcceptableException;
import org.springframework.web.HttpMediaTypeNotSupportedException;
import org.springframework.web.HttpRequestMethodNotSupportedException;
import org.springframework.web.context.request.ServletWebRequest;
import org.springframework.web.context.request.WebRequest;
import org.springframework.web.context.request.async.AsyncRequestTimeoutException;
import org.springframework.web.servlet.resource.NoResourceFoundException;

/**
 * The problem details of the errors Spring MVC answers on its own (no controller chose a kind): each status gets the
 * documented {@code code}, {@code type} and {@code title}, the status stays, and anything else is a generic
 * internal error whose detail says nothing of the failure.
 */
class ProblemResponseAdviceTest {

    private final ProblemResponseAdvice advice = new ProblemResponseAdvice();
    private final WebRequest request = new ServletWebRequest(new MockHttpServletRequest("GET", "/api/v1/jobs"));

    /** The codes of the API for the statuses the framework or the container produce (ApiProblem's contract). */
    private static final Map<Integer, String> DOCUMENTED = Map.of(
            400, "malformed-request",
            401, "unauthorized",
            404, "not-found",
            405, "method-not-allowed",
            406, "not-acceptable",
            413, "payload-too-large",
            415, "unsupported-media-type",
            503, "service-unavailable");

    private ProblemDetail answer(Exception ex) throws Exception {
        ResponseEntity<Object> response = advice.handleException(ex, request);
        assertThat(response).isNotNull();
        assertThat(response.getBody()).isInstanceOf(ProblemDetail.class);
        ProblemDetail problem = (ProblemDetail) response.getBody();
        assertThat(problem.getStatus()).isEqualTo(response.getStatusCode().value());
        return problem;
    }

    private ProblemDetail springsOwnProblem(int status) {
        HttpStatusCode code = HttpStatusCode.valueOf(status);
        ResponseEntity<Object> response = advice.createResponseEntity(
                ProblemDetail.forStatusAndDetail(code, "Spring's own detail"), HttpHeaders.EMPTY, code, request);
        assertThat(response.getStatusCode().value()).isEqualTo(status);
        return (ProblemDetail) response.getBody();
    }

    @Test
    void givesTheErrorsSpringAnswersItselfTheDocumentedCodeTypeAndTitle() throws Exception {
        assertThat(answer(new HttpRequestMethodNotSupportedException("PATCH", List.of("GET", "POST"))))
                .satisfies(p -> assertThat(p.getStatus()).isEqualTo(405))
                .satisfies(p -> assertThat(p.getProperties()).containsEntry("code", "method-not-allowed"))
                .satisfies(p -> assertThat(p.getType()).hasToString(ApiProblem.TYPE_BASE + "method-not-allowed"))
                .satisfies(p -> assertThat(p.getTitle()).isEqualTo("Method not allowed"));
        assertThat(answer(new HttpMediaTypeNotSupportedException(
                                MediaType.TEXT_PLAIN, List.of(MediaType.APPLICATION_JSON), HttpMethod.POST))
                        .getProperties())
                .containsEntry("code", "unsupported-media-type");
        assertThat(answer(new HttpMediaTypeNotAcceptableException(List.of(MediaType.APPLICATION_JSON)))
                        .getProperties())
                .containsEntry("code", "not-acceptable");
        assertThat(answer(new NoResourceFoundException(HttpMethod.GET, "/nothing", "nothing"))
                        .getProperties())
                .containsEntry("code", "not-found");
        assertThat(answer(new AsyncRequestTimeoutException()).getProperties())
                .containsEntry("code", "service-unavailable");
    }

    @Test
    void mapsEveryStatusTheFrameworkMayProduceAsTheApiDocumentsIt() {
        for (int status = 400; status < 600; status++) {
            if (HttpStatus.resolve(status) == null) {
                continue;
            }
            ProblemDetail problem = springsOwnProblem(status);
            String expected = DOCUMENTED.getOrDefault(status, "internal-error");

            assertThat(problem.getProperties()).as("status %d", status).containsEntry("code", expected);
            assertThat(problem.getType()).as("status %d", status).hasToString(ApiProblem.TYPE_BASE + expected);
            assertThat(problem.getStatus()).as("status %d", status).isEqualTo(status);
            if (expected.equals("internal-error")) {
                assertThat(problem.getDetail()).as("status %d", status).isEqualTo("An unexpected error occurred.");
            } else {
                assertThat(problem.getDetail()).as("status %d", status).isEqualTo("Spring's own detail");
            }
        }
    }

    @Test
    void leavesAProblemThatAlreadyHasOurCodeAsItIs() {
        ProblemDetail ours = ApiProblem.JOB_NOT_FOUND.toProblem("No such job.");

        ResponseEntity<Object> response =
                advice.createResponseEntity(ours, HttpHeaders.EMPTY, HttpStatus.NOT_FOUND, request);

        assertThat(((ProblemDetail) response.getBody()).getProperties()).containsEntry("code", "job-not-found");
        assertThat(((ProblemDetail) response.getBody()).getTitle()).isEqualTo("Job not found");
    }
}
