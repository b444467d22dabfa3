package io.forgequeue.gateway.system;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletInputStream;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.HttpServletResponse;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.http.InvalidMediaTypeException;
import org.springframework.http.MediaType;
import org.springframework.stereotype.Component;
import org.springframework.web.filter.OncePerRequestFilter;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * Checks that a JSON request body is well-formed UTF-8 (RFC 8259 §8.1, Unicode table 3-7) while it is read, and
 * refuses it otherwise ({@link MalformedUtf8Exception}, answered 400 {@code malformed-request} by the problem
 * advice). Jackson's byte parser decodes some ill-formed sequences instead of refusing them: an overlong encoding
 * such as {@code C0 AF} became {@code "/"}, so a filter that looked for a character in the bytes could be bypassed.
 * Refused: overlong forms, UTF-16 surrogates encoded in UTF-8, code points above U+10FFFF, stray continuation
 * bytes, bytes C0, C1 and F5..FF, and a sequence cut off by the end of the body.
 *
 * <p>Only bodies declared as JSON in UTF-8 (no charset, or charset UTF-8) are checked; the API accepts no other
 * bodies (they are refused with 415 anyway).
 */
@Component
@Order(Ordered.HIGHEST_PRECEDENCE + 20)
class Utf8BodyFilter extends OncePerRequestFilter {

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        chain.doFilter(isUtf8Json(request.getContentType()) ? new Checked(request) : request, response);
    }

    static boolean isUtf8Json(String contentType) {
        if (contentType == null) {
            return false;
        }
        MediaType type;
        try {
            type = MediaType.parseMediaType(contentType);
        } catch (InvalidMediaTypeException e) {
            return false;
        }
        boolean json = type.getType().equalsIgnoreCase("application")
                && (type.getSubtype().equalsIgnoreCase("json") || type.getSubtype().toLowerCase(Locale.ROOT).endsWith("+json"));
        if (!json) {
            return false;
        }
        try {
            return type.getCharset() == null || StandardCharsets.UTF_8.equals(type.getCharset());
        } catch (RuntimeException e) { // an unknown charset name
            return false;
        }
    }

    /** Thrown while reading a body that is not well-formed UTF-8. */
    public static final class MalformedUtf8Exception extends IOException {
        MalformedUtf8Exception(long offset) {
            super("The request body is not valid UTF-8 (at byte " + offset + ").");
        }
    }

    /**
     * The UTF-8 decoding automaton of Unicode table 3-7 (well-formed byte sequences), fed one byte at a time.
     */
    static final class Utf8Validator {
        private int needed;
        private int lower = 0x80;
        private int upper = 0xBF;

        /** False when {@code b} (0..255) cannot continue a well-formed sequence. */
        boolean accept(int b) {
            if (needed == 0) {
                if (b <= 0x7F) {
                    return true;
                }
                if (b >= 0xC2 && b <= 0xDF) {
                    needed = 1;
                } else if (b >= 0xE0 && b <= 0xEF) {
                    needed = 2;
                    if (b == 0xE0) {
                        lower = 0xA0; // below: overlong
                    } else if (b == 0xED) {
                        upper = 0x9F; // above: a UTF-16 surrogate
                    }
                } else if (b >= 0xF0 && b <= 0xF4) {
                    needed = 3;
                    if (b == 0xF0) {
                        lower = 0x90; // below: overlong
                    } else if (b == 0xF4) {
                        upper = 0x8F; // above: beyond U+10FFFF
                    }
                } else {
                    return false; // 80..C1 (continuation or overlong lead), F5..FF
                }
                return true;
            }
            if (b < lower || b > upper) {
                return false;
            }
            lower = 0x80;
            upper = 0xBF;
            needed--;
            return true;
        }

        /** True when no sequence is left unfinished. */
        boolean complete() {
            return needed == 0;
        }
    }

    private static final class Checked extends HttpServletRequestWrapper {
        private ServletInputStream stream;

        Checked(HttpServletRequest request) {
            super(request);
        }

        @Override
        public ServletInputStream getInputStream() throws IOException {
            if (stream == null) {
                Utf8Validator utf8 = new Utf8Validator();
                stream = new InspectedInputStream(super.getInputStream()) {
                    private long offset;

                    @Override
                    protected void passed(int b) throws MalformedUtf8Exception {
                        if (!utf8.accept(b)) {
                            throw new MalformedUtf8Exception(offset);
                        }
                        offset++;
                    }

                    @Override
                    protected void ended() throws MalformedUtf8Exception {
                        if (!utf8.complete()) {
                            throw new MalformedUtf8Exception(offset);
                        }
                    }
                };
            }
            return stream;
        }
    }
}
