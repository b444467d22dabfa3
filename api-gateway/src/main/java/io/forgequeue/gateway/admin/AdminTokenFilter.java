package io.forgequeue.gateway.admin;

import io.forgequeue.gateway.apikey.ApiKeys;
import io.forgequeue.gateway.system.ApiProblem;
import io.forgequeue.gateway.system.ProblemWriter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.dao.DataAccessException;
import org.springframework.http.HttpHeaders;
import org.springframework.stereotype.Component;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * Guards {@code /api/v1/admin/}: only a request with {@code Authorization: Bearer <admin token>} gets through.
 * No or an unknown token is 401 ({@code admin-unauthorized}); an API key is 403 ({@code admin-forbidden}: the
 * caller is known, but a user's key never administers); without configured tokens every request is 403
 * ({@code admin-api-disabled}). Tokens are never logged.
 */
@Component
@Order(Ordered.HIGHEST_PRECEDENCE + 20)
class AdminTokenFilter extends OncePerRequestFilter {

    static final String PATH = "/api/v1/admin";
    private static final Logger log = LoggerFactory.getLogger(AdminTokenFilter.class);

    private final AdminTokens tokens;
    private final ApiKeys keys;
    private final ProblemWriter problems;

    AdminTokenFilter(AdminTokens tokens, ApiKeys keys, ProblemWriter problems) {
        this.tokens = tokens;
        this.keys = keys;
        this.problems = problems;
    }

    @Override
    protected boolean shouldNotFilter(HttpServletRequest request) {
        String path = request.getRequestURI().substring(request.getContextPath().length());
        return !(path.equals(PATH) || path.startsWith(PATH + "/"));
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        if (!tokens.enabled()) {
            problems.write(
                    request,
                    response,
                    ApiProblem.ADMIN_API_DISABLED.toProblem(
                            "The admin API is off on this "
                                    + "gateway: no admin token is configured (gateway.admin.tokens, env GATEWAY_ADMIN_TOKENS)."));
            return;
        }
        String header = request.getHeader(HttpHeaders.AUTHORIZATION);
        String raw = header != null && header.regionMatches(true, 0, "Bearer ", 0, 7)
                ? header.substring(7).trim()
                : null;
        if (raw != null && tokens.matches(raw)) {
            chain.doFilter(request, response);
            return;
        }
        if (raw != null && isApiKey(raw)) {
            log.info(
                    "Admin API request {} {} refused: it carried an API key, not an admin token",
                    request.getMethod(),
                    request.getRequestURI());
            problems.write(
                    request,
                    response,
                    ApiProblem.ADMIN_FORBIDDEN.toProblem("This is an API key for jobs; "
                            + "the admin API takes only admin tokens (gateway.admin.tokens)."));
            return;
        }
        log.info(
                "Admin API request {} {} refused: {}",
                request.getMethod(),
                request.getRequestURI(),
                raw == null ? "no admin token" : "not an admin token");
        response.setHeader(HttpHeaders.WWW_AUTHENTICATE, "Bearer realm=\"forge-queue-admin\"");
        problems.write(
                request,
                response,
                ApiProblem.ADMIN_UNAUTHORIZED.toProblem(
                        raw == null
                                ? "Send an admin token as 'Authorization: Bearer <token>'."
                                : "The admin token is not valid."));
    }

    private boolean isApiKey(String raw) {
        try {
            return keys.authenticate(raw).isPresent();
        } catch (DataAccessException e) {
            return false; // refused either way; only the explanation is less precise
        }
    }
}
