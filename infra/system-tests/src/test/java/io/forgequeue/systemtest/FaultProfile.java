package io.forgequeue.systemtest;

import java.time.Duration;

/**
 * The two lengths of the reliability suite. The default (short) profile runs in CI within a few minutes: short
 * outages, few kills. {@code -Dfaults.long=true} (or the Maven profile {@code faults-long}) runs the full-length
 * scenarios: a 90 s Forge outage, more kills and restarts, longer outages.
 */
final class FaultProfile {

    static final boolean LONG = Boolean.parseBoolean(System.getProperty("faults.long", "false"));

    private FaultProfile() {}

    static String name() {
        return LONG ? "long" : "short";
    }

    static int pick(int shortValue, int longValue) {
        return LONG ? longValue : shortValue;
    }

    static Duration pick(Duration shortValue, Duration longValue) {
        return LONG ? longValue : shortValue;
    }

    /** How long a scenario waits for its jobs to finish after the fault. */
    static Duration settle() {
        return pick(Duration.ofSeconds(90), Duration.ofSeconds(300));
    }
}
