package io.forgequeue.gateway.system;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletInputStream;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.http.InvalidMediaTypeException;
import org.springframework.http.MediaType;
import org.springframework.stereotype.Component;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * Checks that a JSON request body is well-formed UTF-8 (RFC 8259 §8.1, Unicode table 3-7) while it is read, with the
 * JDK's strict decoder, and refuses it otherwise ({@link MalformedUtf8Exception}, answered 400 {@code malformed-request} by the problem
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
                && (type.getSubtype().equalsIgnoreCase("json")
                        || type.getSubtype().toLowerCase(Locale.ROOT).endsWith("+json"));
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
     * The JDK's strict UTF-8 decoder ({@link CodingErrorAction#REPORT}: it follows Unicode table 3-7), fed the body
     * chunk by chunk as it is read; a sequence cut by a chunk's end is carried to the next chunk. Not thread-safe.
     */
    static final class Utf8Validator {
        private final CharsetDecoder decoder = StandardCharsets.UTF_8
                .newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        private final CharBuffer chars = CharBuffer.allocate(512);
        /** The start of an unfinished sequence (at most 3 bytes) left by the previous chunk. */
        private final ByteBuffer carried = ByteBuffer.allocate(4);
        /** Bytes decoded or carried so far: where the next chunk starts in the body. */
        private long offset;
        /** Where in the body the first ill-formed sequence starts; -1 while there is none. */
        private long malformedAt = -1;
        /** The verdict at the end of the body, once it was reached (a stream may report its end more than once). */
        private Boolean complete;

        /** False when the bytes, after those accepted before, are not well-formed UTF-8. */
        boolean accept(byte[] buf, int off, int n) {
            if (malformedAt >= 0) {
                return false;
            }
            ByteBuffer in;
            long start = offset - carried.position();
            if (carried.position() > 0) {
                carried.flip();
                in = ByteBuffer.allocate(carried.remaining() + n)
                        .put(carried)
                        .put(buf, off, n)
                        .flip();
                carried.clear();
            } else {
                in = ByteBuffer.wrap(buf, off, n);
            }
            offset += n;
            return decode(in, start, false);
        }

        /** As {@link #accept(byte[], int, int)} for one byte (0..255). */
        boolean accept(int b) {
            return accept(new byte[] {(byte) b}, 0, 1);
        }

        /** True when the body ended with no sequence left unfinished. */
        boolean complete() {
            if (complete == null) {
                carried.flip();
                ByteBuffer rest =
                        ByteBuffer.allocate(carried.remaining()).put(carried).flip();
                carried.clear();
                complete = malformedAt < 0 && decode(rest, offset - rest.remaining(), true);
            }
            return complete;
        }

        /** Where the first ill-formed sequence starts in the body (meaningful after a refusal). */
        long malformedAt() {
            return malformedAt;
        }

        private boolean decode(ByteBuffer in, long start, boolean end) {
            CoderResult result;
            do {
                chars.clear();
                result = decoder.decode(in, chars, end);
            } while (result.isOverflow());
            if (result.isError()) {
                malformedAt = start + in.position();
                return false;
            }
            if (end) {
                return !decoder.flush(chars.clear()).isError();
            }
            carried.put(in);
            return true;
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
                    @Override
                    protected void passed(int b) throws MalformedUtf8Exception {
                        if (!utf8.accept(b)) {
                            throw new MalformedUtf8Exception(utf8.malformedAt());
                        }
                    }

                    @Override
                    protected void passed(byte[] buf, int off, int n) throws MalformedUtf8Exception {
                        if (!utf8.accept(buf, off, n)) {
                            throw new MalformedUtf8Exception(utf8.malformedAt());
                        }
                    }

                    @Override
                    protected void ended() throws MalformedUtf8Exception {
                        if (!utf8.complete()) {
                            throw new MalformedUtf8Exception(utf8.malformedAt());
                        }
                    }
                };
            }
            return stream;
        }
    }
}
