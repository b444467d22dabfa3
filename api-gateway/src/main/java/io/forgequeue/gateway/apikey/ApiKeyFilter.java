package io.forgequeue.gateway.apikey;

import io.forgequeue.gateway.system.ApiProblem;
import io.forgequeue.gateway.system.DatabaseFailures;
import io.forgequeue.gateway.system.GatewayMetrics;
import io.forgequeue.gateway.system.ProblemWriter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.time.Duration;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.dao.DataAccessException;
import org.springframework.http.HttpHeaders;
import org.springframework.http.ProblemDetail;
import org.springframework.stereotype.Component;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * Requires {@code Authorization: Bearer <key>} on every request under {@code /api/v1/} except the OpenAPI document
 * and the admin API ({@code /api/v1/admin/}, which takes admin tokens instead),
 * and puts the key's {@link Caller} into the request for controllers. An unknown key is 401; an unreachable
 * database is 503; a key over its request rate ({@link RateLimits}) is 429 with Retry-After.
 */
@Component
@Order(Ordered.HIGHEST_PRECEDENCE + 20)
class ApiKeyFilter extends OncePerRequestFilter {

    static final String CALLER_ATTRIBUTE = ApiKeyFilter.class.getName() + ".caller";
    private static final Logger log = LoggerFactory.getLogger(ApiKeyFilter.class);

    private final ApiKeys keys;
    private final ProblemWriter problems;
    private final RateLimits rateLimits;
    private final GatewayMetrics metrics;

    ApiKeyFilter(ApiKeys keys, ProblemWriter problems, RateLimits rateLimits, GatewayMetrics metrics) {
        this.keys = keys;
        this.problems = problems;
        this.rateLimits = rateLimits;
        this.metrics = metrics;
    }

    @Override
    protected boolean shouldNotFilter(HttpServletRequest request) {
        String path = request.getRequestURI().substring(request.getContextPath().length());
        return !path.startsWith("/api/v1/") || path.startsWith("/api/v1/openapi") || isAdminPath(path);
    }

    /** The admin API takes admin tokens, never API keys (its own filter checks them). */
    static boolean isAdminPath(String path) {
        return path.equals("/api/v1/admin") || path.startsWith("/api/v1/admin/");
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        String header = request.getHeader(HttpHeaders.AUTHORIZATION);
        String raw = header != null && header.regionMatches(true, 0, "Bearer ", 0, 7)
                ? header.substring(7).trim()
                : null;
        Optional<Caller> caller;
        try {
            caller = raw == null ? Optional.empty() : keys.authenticate(raw);
        } catch (DataAccessException e) {
            if (!DatabaseFailures.isUnavailable(e)) {
                throw e;
            }
            log.warn(
                    "Database unavailable while checking an API key: {}",
                    e.getClass().getSimpleName());
            response.setHeader(HttpHeaders.RETRY_AFTER, "5");
            problems.write(
                    request,
                    response,
                    ApiProblem.SERVICE_UNAVAILABLE.toProblem(
                            "The job database cannot be reached. Please retry shortly."));
            return;
        }
        if (caller.isEmpty()) {
            response.setHeader(HttpHeaders.WWW_AUTHENTICATE, "Bearer realm=\"forge-queue\"");
            ProblemDetail problem = ApiProblem.UNAUTHORIZED.toProblem(
                    raw == null ? "Send your API key as 'Authorization: Bearer <key>'." : "The API key is not valid.");
            problems.write(request, response, problem);
            return;
        }
        Duration wait = rateLimits.tryRequest(caller.get().keyId());
        if (wait != null) {
            metrics.rateLimited(GatewayMetrics.LIMIT_REQUESTS);
            long seconds = RateLimits.retryAfterSeconds(wait);
            response.setHeader(HttpHeaders.RETRY_AFTER, Long.toString(seconds));
            ProblemDetail problem = ApiProblem.RATE_LIMITED.toProblem(
                    "This API key sent more requests than its rate " + "limit allows. Retry after " + seconds + " s.");
            problem.setProperty("retryAfterSeconds", seconds);
            problems.write(request, response, problem);
            return;
        }
        request.setAttribute(CALLER_ATTRIBUTE, caller.get());
        chain.doFilter(request, response);
    }
}
