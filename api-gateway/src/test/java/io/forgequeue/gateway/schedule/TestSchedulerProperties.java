package io.forgequeue.gateway.schedule;

import java.time.Duration;

/**
 * Scheduler settings for unit tests: the shipped defaults, with the few values a test varies, except that the fleet is
 * checked on every round ({@code fleet-check} 0): the tests drive rounds one by one.
 */
final class TestSchedulerProperties {

    private TestSchedulerProperties() {}

    /** The defaults of {@code gateway.scheduler.*}; {@code enabled} false keeps the dispatcher's thread unstarted. */
    static SchedulerProperties defaults(boolean enabled) {
        return of(enabled, 5, Duration.ofSeconds(30), 32);
    }

    /** The defaults, with the running jobs of a worker that said goodbye taken back after {@code goodbyeGrace}. */
    static SchedulerProperties withGoodbyeGrace(Duration goodbyeGrace) {
        return of(true, 5, Duration.ofSeconds(30), 32, goodbyeGrace);
    }

    /** The defaults, with a worker given {@code reconnectGrace} to be heard after the broker connection came back. */
    static SchedulerProperties withReconnectGrace(Duration reconnectGrace) {
        return of(true, 5, Duration.ofSeconds(30), 32, Duration.ofSeconds(5), reconnectGrace, Duration.ZERO);
    }

    /** The defaults, with the fleet's assignments checked at most every {@code fleetCheck}. */
    static SchedulerProperties withFleetCheck(Duration fleetCheck) {
        return of(true, 5, Duration.ofSeconds(30), 32, Duration.ofSeconds(5), Duration.ofSeconds(10), fleetCheck);
    }

    static SchedulerProperties of(boolean enabled, int maxAttempts, Duration maxDelay, int maxBatch) {
        return of(enabled, maxAttempts, maxDelay, maxBatch, Duration.ofSeconds(5));
    }

    private static SchedulerProperties of(
            boolean enabled, int maxAttempts, Duration maxDelay, int maxBatch, Duration goodbyeGrace) {
        return of(enabled, maxAttempts, maxDelay, maxBatch, goodbyeGrace, Duration.ofSeconds(10), Duration.ZERO);
    }

    private static SchedulerProperties of(
            boolean enabled,
            int maxAttempts,
            Duration maxDelay,
            int maxBatch,
            Duration goodbyeGrace,
            Duration reconnectGrace,
            Duration fleetCheck) {
        return new SchedulerProperties(
                enabled,
                SchedulerPolicy.FAIR,
                1,
                maxAttempts,
                Duration.ofSeconds(3),
                Duration.ofMillis(500),
                Duration.ofMillis(250),
                fleetCheck,
                Duration.ofMinutes(2),
                Duration.ofSeconds(1),
                goodbyeGrace,
                Duration.ofSeconds(5),
                reconnectGrace,
                maxBatch,
                new SchedulerProperties.Affinity(32, 4, maxDelay, 10));
    }
}
