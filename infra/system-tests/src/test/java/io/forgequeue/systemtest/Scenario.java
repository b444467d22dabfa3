package io.forgequeue.systemtest;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/** Names a test of the reliability and security suite for the summary ({@link ReliabilitySummary}). */
@Target(ElementType.METHOD)
@Retention(RetentionPolicy.RUNTIME)
@interface Scenario {

    /**
     * Number of the scenario (issue 6 numbers the fault scenarios 1-10, the hostile-input ones follow; 14-16 are the
     * scheduler's, issue 16).
     */
    int value();

    /** Short title for the summary line. */
    String title();
}
