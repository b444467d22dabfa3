package io.forgequeue.gateway.system;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletInputStream;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.stereotype.Component;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * Refuses request bodies above {@link WebProperties#maxBodyBytes()} with a 413 problem: at once when the
 * Content-Length says so, or while reading a chunked body (then {@link PayloadTooLargeException} surfaces from
 * the body reader and the problem advice answers 413).
 */
@Component
@Order(Ordered.HIGHEST_PRECEDENCE + 10)
class BodySizeLimitFilter extends OncePerRequestFilter {

    private final int maxBytes;
    private final ProblemWriter problems;

    BodySizeLimitFilter(WebProperties properties, ProblemWriter problems) {
        this.maxBytes = properties.maxBodyBytes();
        this.problems = problems;
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        long length = request.getContentLengthLong();
        if (length > maxBytes) {
            response.setHeader("Connection", "close");
            problems.write(request, response, ApiProblem.PAYLOAD_TOO_LARGE.toProblem(message()));
            return;
        }
        chain.doFilter(length >= 0 ? request : new Limited(request, maxBytes, message()), response);
    }

    private String message() {
        return "The request body must be at most " + maxBytes + " bytes.";
    }

    /** Thrown while reading a body that turns out to be larger than the limit. */
    public static final class PayloadTooLargeException extends IOException {
        PayloadTooLargeException(String message) {
            super(message);
        }
    }

    private static final class Limited extends HttpServletRequestWrapper {
        private final int max;
        private final String message;
        private ServletInputStream stream;

        Limited(HttpServletRequest request, int max, String message) {
            super(request);
            this.max = max;
            this.message = message;
        }

        @Override
        public ServletInputStream getInputStream() throws IOException {
            if (stream == null) {
                stream = new InspectedInputStream(super.getInputStream()) {
                    private long count;

                    @Override
                    protected void passed(int b) throws PayloadTooLargeException {
                        check(1);
                    }

                    @Override
                    protected void passed(byte[] buf, int off, int n) throws PayloadTooLargeException {
                        check(n);
                    }

                    private void check(int n) throws PayloadTooLargeException {
                        count += n;
                        if (count > max) {
                            throw new PayloadTooLargeException(message);
                        }
                    }
                };
            }
            return stream;
        }
    }
}
