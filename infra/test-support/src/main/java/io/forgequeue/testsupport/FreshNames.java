package io.forgequeue.testsupport;

import java.security.SecureRandom;
import java.util.Locale;
import java.util.OptionalLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Names of fresh virtual hosts and databases: {@code <prefix>_fq<pid>_<6 random chars>}. The pid is the
 * creating JVM's, so that a later JVM can tell leftovers (creator gone) from resources still in use.
 */
final class FreshNames {

    private static final Pattern FRESH = Pattern.compile(".*_fq(\\d{1,10})_[a-z0-9]{6}");
    private static final String ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final int MAX_PREFIX = 40;

    private FreshNames() {}

    static String virtualHost(String prefix) {
        String cleaned = clean(prefix).replaceAll("[^A-Za-z0-9._-]", "-");
        return truncate(cleaned) + suffix();
    }

    /** A valid unquoted PostgreSQL identifier of at most 63 bytes. */
    static String database(String prefix) {
        String cleaned = clean(prefix).toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9_]", "_");
        if (!Character.isLetter(cleaned.charAt(0)) && cleaned.charAt(0) != '_') {
            cleaned = "t_" + cleaned;
        }
        return truncate(cleaned) + suffix();
    }

    /** The creating JVM's pid when {@code name} is a fresh name, empty otherwise. */
    static OptionalLong creatorPid(String name) {
        Matcher matcher = FRESH.matcher(name);
        return matcher.matches() ? OptionalLong.of(Long.parseLong(matcher.group(1))) : OptionalLong.empty();
    }

    private static String clean(String prefix) {
        return prefix == null || prefix.isBlank() ? "test" : prefix.strip();
    }

    private static String truncate(String prefix) {
        return prefix.length() > MAX_PREFIX ? prefix.substring(0, MAX_PREFIX) : prefix;
    }

    private static String suffix() {
        StringBuilder random = new StringBuilder(6);
        for (int i = 0; i < 6; i++) {
            random.append(ALPHABET.charAt(RANDOM.nextInt(ALPHABET.length())));
        }
        return "_fq" + ProcessHandle.current().pid() + "_" + random;
    }
}
