package io.forgequeue.gateway.system;

import java.io.IOException;
import java.io.PrintWriter;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.catalina.Container;
import org.apache.catalina.Pipeline;
import org.apache.catalina.Valve;
import org.apache.catalina.connector.Request;
import org.apache.catalina.connector.Response;
import org.apache.catalina.core.StandardHost;
import org.apache.catalina.valves.ErrorReportValve;
import org.apache.coyote.ActionCode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.tomcat.ConfigurableTomcatWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;
import org.springframework.core.Ordered;
import org.springframework.http.MediaType;
import org.springframework.http.ProblemDetail;
import org.springframework.stereotype.Component;
import tools.jackson.databind.json.JsonMapper;

/**
 * Errors that Tomcat answers itself, before a request reaches the application: a URL it refuses (an encoded
 * {@code /} or {@code \} in the path, {@code %} not followed by two hex digits, a path that climbs above the root
 * after normalisation, bytes that are not UTF-8 in the path), or a request it could not map to the application.
 * Tomcat writes those with its host's error report valve, as an HTML page; here that valve is replaced by one that
 * writes the same RFC 9457 problem details (with {@code type}, {@code title}, {@code status} and a stable
 * {@code code}) as the rest of the API. Errors that do reach the application go to {@link ErrorFallbackController}.
 *
 * <p>The refusal itself is Tomcat's and is kept: encoded slashes stay rejected
 * ({@code server.tomcat.encoded-solidus-handling} = {@code reject}, the default), so {@code ..%2F..%2Fetc} can never
 * be decoded into a path that climbs out of {@code /api/v1/jobs/}.
 */
@Component
class ContainerErrorConfiguration implements WebServerFactoryCustomizer<ConfigurableTomcatWebServerFactory>, Ordered {

    private final JsonMapper json;

    ContainerErrorConfiguration(JsonMapper json) {
        this.json = json;
    }

    /** After Boot's own customizer, which adds Tomcat's HTML error report valve. */
    @Override
    public int getOrder() {
        return Ordered.LOWEST_PRECEDENCE;
    }

    @Override
    public void customize(ConfigurableTomcatWebServerFactory factory) {
        factory.addContextCustomizers(context -> replaceErrorReportValve(context.getParent(), json));
    }

    static void replaceErrorReportValve(Container host, JsonMapper json) {
        Pipeline pipeline = host.getPipeline();
        for (Valve valve : pipeline.getValves()) {
            if (valve instanceof ErrorReportValve && !(valve instanceof ProblemReportValve)) {
                pipeline.removeValve(valve);
            }
        }
        pipeline.addValve(new ProblemReportValve(json));
        if (host instanceof StandardHost standard) {
            // the host adds a valve of this class when it starts unless one is there: ours is
            standard.setErrorReportValveClass(ProblemReportValve.class.getName());
        }
    }

    /** Tomcat's error report valve, writing a problem detail instead of an HTML page. */
    static final class ProblemReportValve extends ErrorReportValve {

        private static final Logger log = LoggerFactory.getLogger(ProblemReportValve.class);

        private final JsonMapper json;

        ProblemReportValve(JsonMapper json) {
            this.json = json;
            setShowReport(false);
            setShowServerInfo(false);
        }

        @Override
        protected void report(Request request, Response response, Throwable throwable) {
            int status = response.getStatus();
            if (status < 400 || response.getContentWritten() > 0 || !response.setErrorReported()) {
                return;
            }
            AtomicBoolean ioAllowed = new AtomicBoolean(false);
            response.getCoyoteResponse().action(ActionCode.IS_IO_ALLOWED, ioAllowed);
            if (!ioAllowed.get()) {
                return;
            }
            if (status >= 500) {
                log.warn("Request refused by the web container with status {}", status);
            } else {
                log.debug("Request refused by the web container with status {}", status);
            }
            try {
                response.setContentType(MediaType.APPLICATION_PROBLEM_JSON_VALUE);
                response.setCharacterEncoding("utf-8");
                PrintWriter writer = response.getReporter();
                if (writer != null) {
                    writer.write(json.writeValueAsString(problem(status)));
                    response.finishResponse();
                }
            } catch (IOException | RuntimeException e) {
                log.debug("Error report not written: {}", e.getClass().getSimpleName());
            }
        }

        /** The problem for a status (nothing of the request is echoed: the URL may be anything). */
        static ProblemDetail problem(int status) {
            ApiProblem kind = ApiProblem.forStatus(
                    status, status < 500 ? ApiProblem.MALFORMED_REQUEST : ApiProblem.INTERNAL_ERROR);
            String detail = switch (kind) {
                case MALFORMED_REQUEST ->
                    "The request was refused: its URL, method or headers are not valid "
                            + "(for example an encoded '/' or '\\' in the path, or a '%' not followed by two hex digits).";
                case INTERNAL_ERROR -> "An unexpected error occurred.";
                default -> kind.title() + ".";
            };
            ProblemDetail problem = kind.toProblem(detail);
            problem.setStatus(status);
            return problem;
        }
    }
}
