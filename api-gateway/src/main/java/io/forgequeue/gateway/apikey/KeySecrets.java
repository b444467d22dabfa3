package io.forgequeue.gateway.apikey;

import java.security.SecureRandom;

/**
 * Makes the secrets of new API keys: {@value #PREFIX} followed by {@value #RANDOM_CHARS} characters drawn uniformly
 * from the 62 letters and digits by a {@link SecureRandom} (about 190 bits; at least 128 are required). The prefix
 * makes a leaked key recognisable (secret scanners, logs); letters and digits only, so a double click selects the
 * whole key. Thread-safe.
 */
final class KeySecrets {

    /** Every generated key starts with this. */
    static final String PREFIX = "fq_";

    static final int RANDOM_CHARS = 32;
    private static final String ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    private final SecureRandom random = new SecureRandom();

    String generate() {
        StringBuilder key = new StringBuilder(PREFIX.length() + RANDOM_CHARS).append(PREFIX);
        for (int i = 0; i < RANDOM_CHARS; i++) {
            key.append(ALPHABET.charAt(random.nextInt(ALPHABET.length())));
        }
        return key.toString();
    }

    /** Bits of randomness in a generated key. */
    static double entropyBits() {
        return RANDOM_CHARS * Math.log(ALPHABET.length()) / Math.log(2);
    }
}
