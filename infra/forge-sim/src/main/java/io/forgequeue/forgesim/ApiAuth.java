package io.forgequeue.forgesim;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Forge's {@code --api-auth}: HTTP Basic on every {@code /sdapi} route, with FastAPI's {@code HTTPBasic} answers.
 * Immutable, thread-safe.
 */
final class ApiAuth {

    private final Map<String, String> credentials;

    private ApiAuth(Map<String, String> credentials) {
        this.credentials = credentials;
    }

    /**
     * Parses "u1:p1,u2:p2" the way Forge does ({@code split(",")}, then {@code user, password = auth.split(":")}):
     * an entry with no colon or more than one colon (a password containing ':') is a startup error; a repeated
     * user keeps the last password. Null or empty means no authentication (returns null).
     */
    static ApiAuth parse(String spec) {
        if (spec == null || spec.isEmpty()) {
            return null;
        }
        Map<String, String> credentials = new LinkedHashMap<>();
        for (String entry : spec.split(",", -1)) {
            String[] parts = entry.split(":", -1);
            if (parts.length < 2) {
                throw new IllegalArgumentException(
                        "--api-auth: not enough values to unpack (expected 2, got 1) in entry '" + entry + "'");
            }
            if (parts.length > 2) {
                throw new IllegalArgumentException(
                        "--api-auth: too many values to unpack (expected 2): an entry may hold only one ':'");
            }
            credentials.put(parts[0], parts[1]);
        }
        return new ApiAuth(credentials);
    }

    /**
     * Checks an {@code Authorization} header value. Returns null when it is accepted, otherwise the {@code detail}
     * FastAPI would send with its 401: "Not authenticated" (missing or not Basic), "Invalid authentication
     * credentials" (undecodable), or Forge's "Incorrect username or password".
     */
    String reject(String authorization) {
        if (authorization == null || authorization.isBlank()) {
            return "Not authenticated";
        }
        String trimmed = authorization.strip();
        int space = trimmed.indexOf(' ');
        String scheme = space < 0 ? trimmed : trimmed.substring(0, space);
        String param = space < 0 ? "" : trimmed.substring(space + 1).strip();
        if (!scheme.equalsIgnoreCase("basic")) {
            return "Not authenticated";
        }
        String decoded;
        try {
            byte[] bytes = Base64.getMimeDecoder().decode(param);
            for (byte b : bytes) {
                if (b < 0) {
                    return "Invalid authentication credentials"; // Python: .decode("ascii") fails
                }
            }
            decoded = new String(bytes, StandardCharsets.US_ASCII);
        } catch (IllegalArgumentException e) {
            return "Invalid authentication credentials";
        }
        int colon = decoded.indexOf(':');
        if (colon < 0) {
            return "Invalid authentication credentials";
        }
        String user = decoded.substring(0, colon);
        String password = decoded.substring(colon + 1);
        String expected = credentials.get(user);
        if (expected != null
                && MessageDigest.isEqual(
                        expected.getBytes(StandardCharsets.UTF_8), password.getBytes(StandardCharsets.UTF_8))) {
            return null;
        }
        return "Incorrect username or password";
    }
}
