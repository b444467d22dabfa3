package io.forgequeue.gateway.system;

import jakarta.validation.Valid;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotBlank;
import java.util.List;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * Limits and headers of the HTTP API and the web page ({@code gateway.web.*}).
 *
 * @param maxBodyBytes          largest request body accepted; a larger one is answered 413 before it is read further
 * @param contentSecurityPolicy the Content-Security-Policy of every answer: the web page keeps the API key
 *                              in localStorage, so no script may run but the page's own file, and no page may frame it
 * @param cors                  cross-origin REST calls from browsers: off unless origins are listed
 */
@Validated
@ConfigurationProperties("gateway.web")
public record WebProperties(
        @DefaultValue("65536") @Min(1024) int maxBodyBytes,
        @DefaultValue(DEFAULT_CSP) @NotBlank String contentSecurityPolicy,
        @DefaultValue @Valid Cors cors) {

    /**
     * Own scripts, styles and images only (plus {@code data:} and {@code blob:} images: previews and results), calls
     * and the WebSocket to this origin only, no plugins, no framing, no forms posted elsewhere.
     */
    public static final String DEFAULT_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; "
            + "img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
            + "frame-ancestors 'none'; object-src 'none'";

    /**
     * CORS for {@code /api/**}. Off by default: a browser page of another origin cannot call the API.
     *
     * @param allowedOrigins origins allowed to call the API from a browser (e.g. {@code https://app.example.com});
     *                       empty: none (CORS off)
     * @param maxAge         how long a browser may cache a preflight answer, in seconds
     */
    public record Cors(
            @DefaultValue("") List<String> allowedOrigins,
            @DefaultValue("600") @Min(0) long maxAge) {

        public Cors {
            allowedOrigins = allowedOrigins == null
                    ? List.of()
                    : allowedOrigins.stream()
                            .map(String::strip)
                            .filter(o -> !o.isEmpty())
                            .toList();
        }

        /** Whether any origin may call the API from a browser. */
        public boolean enabled() {
            return !allowedOrigins.isEmpty();
        }
    }
}
