package io.forgequeue.gateway.system;

import io.forgequeue.model.JobStatus;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import org.springframework.stereotype.Component;

import java.time.Duration;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.DoubleAdder;

/**
 * The gateway's own meters, all under {@code gpu.gateway.*} with low-cardinality tags (state, outcome, reason,
 * kind; never a job id or a pool). Gauges read values the features push (state counts from the periodic
 * refresh, sessions from the socket registry, outbox lag from the sweep): a scrape never queries the database.
 */
@Component
public class GatewayMetrics {

    private final MeterRegistry registry;
    private final Counter submitted;
    private final Timer queueWait;
    private final Timer runTime;
    private final Map<JobStatus, AtomicLong> byState = new EnumMap<>(JobStatus.class);
    private final AtomicLong sessions = new AtomicLong();
    private final DoubleAdder outboxLagSeconds = new DoubleAdder();
    private final Map<String, Counter> counters = new ConcurrentHashMap<>();

    public GatewayMetrics(MeterRegistry registry) {
        this.registry = registry;
        this.submitted = Counter.builder("gpu.gateway.jobs.submitted").description("Jobs accepted").register(registry);
        this.queueWait = Timer.builder("gpu.gateway.jobs.queue.wait")
                .description("Time from submission to the start of the first attempt")
                .publishPercentileHistogram().register(registry);
        this.runTime = Timer.builder("gpu.gateway.jobs.run.time")
                .description("Time from the start of the last attempt to the outcome")
                .publishPercentileHistogram().register(registry);
        for (JobStatus state : new JobStatus[] {JobStatus.QUEUED, JobStatus.RUNNING}) {
            AtomicLong value = new AtomicLong();
            byState.put(state, value);
            Gauge.builder("gpu.gateway.jobs.by-state", value, AtomicLong::get)
                    .description("Jobs in a non-terminal state (all pools), refreshed periodically")
                    .tag("state", tag(state)).register(registry);
        }
        Gauge.builder("gpu.gateway.websocket.sessions", sessions, AtomicLong::get)
                .description("Open WebSocket sessions on this instance").register(registry);
        Gauge.builder("gpu.gateway.outbox.lag", outboxLagSeconds, DoubleAdder::sum).baseUnit("seconds")
                .description("Age of the oldest outbox entry not yet confirmed by the broker").register(registry);
    }

    public void jobSubmitted() {
        submitted.increment();
    }

    /** A submission refused before anything was stored: {@code validation}, {@code cap}, {@code idempotency}. */
    public void submissionRefused(String reason) {
        counter("gpu.gateway.jobs.refused", "reason", reason).increment();
    }

    public void jobFinished(JobStatus outcome) {
        counter("gpu.gateway.jobs.finished", "outcome", tag(outcome)).increment();
    }

    public void queueWait(Duration wait) {
        if (!wait.isNegative()) {
            queueWait.record(wait);
        }
    }

    public void runTime(Duration run) {
        if (!run.isNegative()) {
            runTime.record(run);
        }
    }

    public void stuckJobFailed() {
        counter("gpu.gateway.jobs.stuck", null, null).increment();
    }

    public void jobsInState(JobStatus state, long count) {
        AtomicLong value = byState.get(state);
        if (value != null) {
            value.set(count);
        }
    }

    public void sessionsOpen(long count) {
        sessions.set(count);
    }

    public void outboxLag(double seconds) {
        outboxLagSeconds.reset();
        outboxLagSeconds.add(seconds);
    }

    /** An outbox entry confirmed by the broker: {@code job} or {@code cancel}. */
    public void outboxPublished(String kind) {
        counter("gpu.gateway.outbox.published", "kind", kind).increment();
    }

    /** An outbox publication that will be retried or gave up: {@code nack}, {@code returned}, {@code error}. */
    public void outboxFailed(String reason) {
        counter("gpu.gateway.outbox.failures", "reason", reason).increment();
    }

    /** An event merged into a job: {@code applied} (moved the job) or {@code late} (filled in older facts). */
    public void eventMerged(String outcome) {
        counter("gpu.gateway.events.merged", "outcome", outcome).increment();
    }

    /** An event that changed nothing, by reason ({@code duplicate}, {@code terminal}, {@code stale-attempt} ...). */
    public void eventRejected(String reason) {
        counter("gpu.gateway.events.rejected", "reason", reason).increment();
    }

    /** A frame pushed to a WebSocket client: {@code snapshot}, {@code update}, {@code position}, {@code preview}. */
    public void framePushed(String type) {
        counter("gpu.gateway.websocket.frames", "type", type).increment();
    }

    private Counter counter(String name, String tagKey, String tagValue) {
        String key = name + '|' + tagValue;
        return counters.computeIfAbsent(key, k -> tagKey == null ? Counter.builder(name).register(registry)
                : Counter.builder(name).tag(tagKey, tagValue).register(registry));
    }

    private static String tag(JobStatus status) {
        return status.name().toLowerCase(Locale.ROOT);
    }
}
