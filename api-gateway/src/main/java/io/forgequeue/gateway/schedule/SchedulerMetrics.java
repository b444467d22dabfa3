package io.forgequeue.gateway.schedule;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import org.springframework.stereotype.Component;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * The scheduler's meters ({@code gpu.gateway.scheduler.*}, catalogue: docs/metrics.md), all registered at start.
 * Tags: {@code reason} of a revocation only. Thread-safe.
 */
@Component
class SchedulerMetrics {

    static final List<String> REVOCATION_REASONS = List.of("lost", "gone", "restarted", "paused", "lost-message",
            "returned");

    private final Timer decisions;
    private final Counter stops;
    private final Counter promoted;
    private final Counter passedOver;
    private final Counter forced;
    private final Counter switching;
    private final Map<String, Counter> revocations;

    SchedulerMetrics(MeterRegistry registry) {
        decisions = Timer.builder("gpu.gateway.scheduler.handouts")
                .description("Hand-outs by the scheduler, timed from the pick to the committed assignment "
                        + "(the decision latency; the job message follows asynchronously)")
                .publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofNanos(50_000))
                .maximumExpectedValue(Duration.ofSeconds(5))
                .register(registry);
        stops = Counter.builder("gpu.gateway.scheduler.stops")
                .description("Stop commands sent to workers for attempts that are no longer theirs (revoked or finished)")
                .register(registry);
        promoted = Counter.builder("gpu.gateway.scheduler.promotions")
                .description("Low-priority jobs that waited past gateway.scheduler.low-priority-max-wait and moved up")
                .register(registry);
        passedOver = Counter.builder("gpu.gateway.scheduler.passed-over")
                .description("Times a waiting job was passed over for a later one whose model a worker had loaded")
                .register(registry);
        forced = Counter.builder("gpu.gateway.scheduler.passed-over.forced")
                .description("Jobs handed out ahead of everything because they had been passed over too often or "
                        + "too long (gateway.scheduler.affinity.*)")
                .register(registry);
        switching = Counter.builder("gpu.gateway.scheduler.handouts.switching")
                .description("Hand-outs that make the worker load another checkpoint first")
                .register(registry);
        revocations = REVOCATION_REASONS.stream().collect(Collectors.toUnmodifiableMap(Function.identity(),
                reason -> Counter.builder("gpu.gateway.scheduler.revocations").tag("reason", reason)
                        .description("Assignments taken back from workers, by reason").register(registry)));
    }

    void handedOut(long decisionNanos) {
        decisions.record(decisionNanos, TimeUnit.NANOSECONDS);
    }

    void revoked(String reason, int count) {
        Counter c = revocations.get(reason);
        if (c != null) {
            c.increment(count);
        }
    }

    void stopSent() {
        stops.increment();
    }

    void passedOver() {
        passedOver.increment();
    }

    void forced() {
        forced.increment();
    }

    void switching() {
        switching.increment();
    }

    void promoted(int count) {
        promoted.increment(count);
    }
}
