package io.forgequeue.gateway.schedule;

import io.forgequeue.gateway.system.GatewayMetrics;
import io.forgequeue.model.JobStatus;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.springframework.stereotype.Component;

/**
 * The scheduler's meters ({@code gpu.gateway.scheduler.*}, catalogue: docs/metrics.md), all registered at start.
 * Tags: {@code reason} of a revocation only; the hand-outs are timed per pool by {@link GatewayMetrics} (which bounds
 * the pool tag). Leadership meters: {@link SchedulerLease}. Thread-safe.
 */
@Component
class SchedulerMetrics {

    static final List<String> REVOCATION_REASONS =
            List.of("lost", "gone", "restarted", "paused", "lost-message", "returned");

    private final GatewayMetrics gatewayMetrics;
    private final Counter stops;
    private final Counter promoted;
    private final Counter passedOver;
    private final Counter forced;
    private final Counter switching;
    private final Counter rounds;
    private final Map<String, Counter> revocations;
    private final Timer picks;
    private final Timer commits;

    SchedulerMetrics(MeterRegistry registry, GatewayMetrics gatewayMetrics) {
        this.gatewayMetrics = gatewayMetrics;
        stops = Counter.builder("gpu.gateway.scheduler.stops")
                .description(
                        "Stop commands sent to workers for attempts that are no longer theirs (revoked or finished)")
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
        rounds = Counter.builder("gpu.gateway.scheduler.rounds")
                .description("Scheduling rounds run by the leader: one per wake-up (a change of the queue index or "
                        + "the fleet, a confirm) or tick")
                .register(registry);
        picks = Timer.builder("gpu.gateway.scheduler.picks")
                .description("The in-memory part of each hand-out: choosing the job for a worker from the queue index "
                        + "(placement included), before the assignment statement")
                .publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofNanos(1_000))
                .maximumExpectedValue(Duration.ofSeconds(1))
                .register(registry);
        commits = Timer.builder("gpu.gateway.scheduler.commits")
                .description("The database part of the hand-outs: one assignment statement for a batch of decisions, "
                        + "from asking for a connection to the commit flushed")
                .publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofNanos(50_000))
                .maximumExpectedValue(Duration.ofSeconds(5))
                .register(registry);
        revocations = REVOCATION_REASONS.stream()
                .collect(Collectors.toUnmodifiableMap(
                        Function.identity(),
                        reason -> Counter.builder("gpu.gateway.scheduler.revocations")
                                .tag("reason", reason)
                                .description("Assignments taken back from workers, by reason")
                                .register(registry)));
    }

    /** A job of {@code pool} handed out, {@code decisionNanos} from the pick to the committed assignment. */
    void handedOut(String pool, long decisionNanos) {
        gatewayMetrics.handedOut(pool, decisionNanos);
    }

    /** A job was chosen for a worker in {@code pickNanos} (in memory; the assignment statement follows). */
    void picked(long pickNanos) {
        picks.record(pickNanos, java.util.concurrent.TimeUnit.NANOSECONDS);
    }

    /** A batch of hand-outs was committed (or found changed) in {@code commitNanos}. */
    void committed(long commitNanos) {
        commits.record(commitNanos, java.util.concurrent.TimeUnit.NANOSECONDS);
    }

    /** The scheduler failed a job of {@code pool} (TOO_MANY_ATTEMPTS): counted with every other terminal job. */
    void jobFailed(String pool, String errorCode) {
        gatewayMetrics.jobFinished(JobStatus.FAILED, pool, errorCode);
    }

    void revoked(String reason, int count) {
        Counter c = revocations.get(reason);
        if (c != null) {
            c.increment(count);
        }
    }

    void round() {
        rounds.increment();
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
