package io.forgequeue.worker.system;

import io.forgequeue.model.ErrorCode;
import io.forgequeue.model.EventType;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.springframework.stereotype.Component;

/**
 * The worker's own metrics, all under {@code gpu.worker.*} with low-cardinality tags (never a job id).
 * Gauges read state that listeners keep up to date; nothing is queried at scrape time. Thread-safe.
 *
 * <ul>
 *   <li>{@code gpu.worker.jobs} (counter; {@code outcome}, {@code code}): jobs finished by outcome;</li>
 *   <li>{@code gpu.worker.forge.calls} (timer with percentile histogram; {@code call}, {@code outcome}): Forge calls;</li>
 *   <li>{@code gpu.worker.forge.retries} (counter; {@code reason}): retried Forge calls;</li>
 *   <li>{@code gpu.worker.forge.breaker.state} (gauge: 0 closed, 1 half-open, 2 open) and
 *       {@code gpu.worker.forge.breaker.transitions} (counter; {@code state});</li>
 *   <li>{@code gpu.worker.busy.time} / {@code gpu.worker.idle.time} (function counters, seconds, counted from the
 *       first job on) and {@code gpu.worker.duty.cycle} (gauge, busy / (busy + idle), 0..1);</li>
 *   <li>{@code gpu.worker.idle.gap} (timer with histogram): from the end of one job to the start of the next;</li>
 *   <li>{@code gpu.worker.turnaround} (timer with histogram; {@code stage}): the worker's own time around a job's
 *       Forge call, the part of the GPU's idle gap spent here: {@value #PREPARE} (job delivered → txt2img sent, first
 *       try only), {@value #RESULT} (Forge answered → outcome handed to the broker), {@value #CONFIRM} (outcome
 *       handed to the broker → confirmed; every outcome);</li>
 *   <li>{@code gpu.worker.consuming} (gauge, 1 while the worker takes jobs, 0 while paused);</li>
 *   <li>{@code gpu.worker.events} (counter; {@code type}, {@code result}): status events published;</li>
 *   <li>{@code gpu.worker.forge.foreign} (counter; {@code event}, one of {@link #FOREIGN_EVENTS}): what this worker
 *       saw of other clients of its Forge (a person in its web UI, another API client);</li>
 *   <li>{@code gpu.worker.forge.busy.waiting} (gauge, 1 while a txt2img waits for Forge to finish another client's
 *       job) and {@code gpu.worker.forge.busy.wait} (timer): each such wait;</li>
 *   <li>{@code gpu.worker.checkpoint.switches} (counter; {@code checkpoint}) and
 *       {@code gpu.worker.checkpoint.switch.time} (timer; {@code checkpoint}): txt2img calls that loaded another
 *       checkpoint than the one loaded before, and the part of each spent loading (once the speed is known); the
 *       {@code checkpoint} tag is the canonical name of the checkpoint loaded, bounded ({@code _other} beyond
 *       {@code worker.models.tagged-checkpoints});</li>
 *   <li>{@code gpu.worker.model.mismatch} (counter; {@code outcome} {@value #MISMATCH_RETRIED} or
 *       {@value #MISMATCH_FAILED}): Forge ran another model than the job asked for; retried once, or the job
 *       failed;</li>
 *   <li>{@code gpu.worker.gpu.time} (function counter, seconds; {@code activity} {@value #GENERATING},
 *       {@value #LOADING}, {@value #IDLE}): the worker's GPU time from its first txt2img on: txt2img calls in flight
 *       (loading = the measured load part of calls that switched checkpoints, generating = the rest) and the time
 *       without one while consuming. generating ÷ the sum is the useful GPU share.</li>
 * </ul>
 *
 * <p>Every counter series whose tag values are known is registered at 0 at startup ({@link #OUTCOMES} ×
 * error codes, event types × {@link #EVENT_RESULTS}, retry reasons, breaker states), so that {@code rate()},
 * {@code increase()} and {@code absent()} see the first event after a restart.
 */
@Component
public class WorkerMetrics {

    /**
     * Outcomes of a job's handling; {@code failed} comes with an error code, the others with {@code none}.
     * {@code rejected}: dead-lettered without an event (unreadable, or assigned to another worker); {@code skipped}:
     * taken back by the scheduler before it was delivered, acked without an event.
     */
    public static final List<String> OUTCOMES =
            List.of("succeeded", "failed", "cancelled", "requeued", "rejected", "skipped");
    /** What the broker answered to a published status event. */
    public static final List<String> EVENT_RESULTS = List.of("confirmed", "nacked", "unconfirmed", "returned");

    /** A txt2img waited because Forge was running another client's job. */
    public static final String BUSY_WAIT = "busy_wait";
    /** Forge stayed busy with another client's job past {@code busy-timeout}: the job was given back. */
    public static final String BUSY_TIMEOUT = "busy_timeout";
    /** During a txt2img Forge ran another client's job; its progress and previews were not reported (once a call). */
    public static final String PROGRESS_WITHHELD = "progress_withheld";
    /** An interrupt (cancel, give-back, abandoned call) was not sent: the job Forge ran was not this worker's. */
    public static final String INTERRUPT_WITHHELD = "interrupt_withheld";
    /** Someone else interrupted this worker's generation: the unfinished images were dropped, the job given back. */
    public static final String INTERRUPTED = "interrupted";
    /** Values of the {@code event} tag of {@code gpu.worker.forge.foreign}. */
    public static final List<String> FOREIGN_EVENTS =
            List.of(BUSY_WAIT, BUSY_TIMEOUT, PROGRESS_WITHHELD, INTERRUPT_WITHHELD, INTERRUPTED);

    /** Outcome of a model mismatch: the call was made once more after asking Forge to load the model. */
    public static final String MISMATCH_RETRIED = "retried";
    /** Outcome of a model mismatch: the job failed (MODEL_MISMATCH). */
    public static final String MISMATCH_FAILED = "failed";
    /** GPU time activity: a txt2img in flight, not loading. */
    public static final String GENERATING = "generating";
    /** GPU time activity: the load part of a txt2img that switched checkpoints. */
    public static final String LOADING = "loading";
    /** GPU time activity: consuming, no txt2img in flight. */
    public static final String IDLE = "idle";
    /** Tag value of checkpoints beyond the bound. */
    public static final String OTHER_CHECKPOINT = "_other";

    /** Turnaround stage: the job was delivered → its txt2img request was sent. */
    public static final String PREPARE = "prepare";
    /** Turnaround stage: Forge answered → the outcome event was handed to the broker. */
    public static final String RESULT = "result";
    /** Turnaround stage: the outcome event was handed to the broker → the broker confirmed it. */
    public static final String CONFIRM = "confirm";

    private final MeterRegistry registry;
    private final AtomicInteger breakerState = new AtomicInteger();
    private final AtomicInteger consuming = new AtomicInteger(1);
    private final AtomicInteger busyWaiting = new AtomicInteger();
    private final Timer busyWait;
    private final Timer idleGap;
    private final Map<String, Timer> turnaround = new HashMap<>();
    private final DutyCycle dutyCycle = new DutyCycle();
    private final GpuTime gpuTime = new GpuTime();

    public WorkerMetrics(MeterRegistry registry) {
        this.registry = registry;
        Gauge.builder("gpu.worker.forge.breaker.state", breakerState, AtomicInteger::get)
                .description("Forge circuit breaker: 0 closed, 1 half-open, 2 open")
                .register(registry);
        Gauge.builder("gpu.worker.consuming", consuming, AtomicInteger::get)
                .description("1 while the worker takes jobs, 0 while consumption is paused")
                .register(registry);
        Gauge.builder("gpu.worker.duty.cycle", dutyCycle, d -> d.ratio(System.nanoTime()))
                .description("Share of wall time spent running jobs since the first job started")
                .register(registry);
        FunctionCounter.builder("gpu.worker.busy.time", dutyCycle, d -> d.busySeconds(System.nanoTime()))
                .baseUnit("seconds")
                .description("Time spent running jobs")
                .register(registry);
        FunctionCounter.builder("gpu.worker.idle.time", dutyCycle, d -> d.idleSeconds(System.nanoTime()))
                .baseUnit("seconds")
                .description("Time spent waiting between jobs, from the first job on")
                .register(registry);
        idleGap = Timer.builder("gpu.worker.idle.gap")
                .description("Time from the end of one job to the start of the next")
                .publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofNanos(100_000))
                .maximumExpectedValue(Duration.ofMinutes(10))
                .register(registry);
        Gauge.builder("gpu.worker.forge.busy.waiting", busyWaiting, AtomicInteger::get)
                .description("1 while a txt2img waits for Forge to finish another client's job")
                .register(registry);
        busyWait = Timer.builder("gpu.worker.forge.busy.wait")
                .description("Time a txt2img waited for Forge to finish another client's job")
                .register(registry);
        for (String stage : List.of(PREPARE, RESULT, CONFIRM)) {
            turnaround.put(
                    stage,
                    Timer.builder("gpu.worker.turnaround")
                            .description("The worker's own time around a job's Forge call, by stage")
                            .tag("stage", stage)
                            .publishPercentileHistogram()
                            .minimumExpectedValue(Duration.ofNanos(10_000))
                            .maximumExpectedValue(Duration.ofMinutes(5))
                            .register(registry));
        }
        FunctionCounter.builder("gpu.worker.gpu.time", gpuTime, g -> g.seconds(GENERATING, System.nanoTime()))
                .baseUnit("seconds")
                .tag("activity", GENERATING)
                .description("GPU time by activity, from the first txt2img on")
                .register(registry);
        FunctionCounter.builder("gpu.worker.gpu.time", gpuTime, g -> g.seconds(LOADING, System.nanoTime()))
                .baseUnit("seconds")
                .tag("activity", LOADING)
                .description("GPU time by activity, from the first txt2img on")
                .register(registry);
        FunctionCounter.builder("gpu.worker.gpu.time", gpuTime, g -> g.seconds(IDLE, System.nanoTime()))
                .baseUnit("seconds")
                .tag("activity", IDLE)
                .description("GPU time by activity, from the first txt2img on")
                .register(registry);
        registerAtZero();
    }

    private void registerAtZero() {
        for (String outcome : OUTCOMES) {
            if (outcome.equals("failed")) {
                for (ErrorCode code : ErrorCode.values()) {
                    jobsCounter(outcome, code);
                }
            } else {
                jobsCounter(outcome, null);
            }
        }
        for (EventType type : EventType.values()) {
            for (String result : EVENT_RESULTS) {
                eventsCounter(type.name(), result);
            }
        }
        for (String reason : List.of("outage", "failure")) {
            retriesCounter(reason);
        }
        for (String state : List.of("closed", "half_open", "open")) {
            transitionsCounter(state);
        }
        for (String event : FOREIGN_EVENTS) {
            foreignCounter(event);
        }
        for (String outcome : List.of(MISMATCH_RETRIED, MISMATCH_FAILED)) {
            mismatchCounter(outcome);
        }
        checkpointSeen(OTHER_CHECKPOINT);
    }

    private Counter mismatchCounter(String outcome) {
        return Counter.builder("gpu.worker.model.mismatch")
                .description("Forge ran another model than the job asked for, by what followed")
                .tag("outcome", outcome)
                .register(registry);
    }

    private Counter switchCounter(String checkpoint) {
        return Counter.builder("gpu.worker.checkpoint.switches")
                .description("txt2img calls that loaded another checkpoint first, by checkpoint loaded")
                .tag("checkpoint", checkpoint)
                .register(registry);
    }

    private Timer switchTimer(String checkpoint) {
        return Timer.builder("gpu.worker.checkpoint.switch.time")
                .description("Time Forge spent loading a checkpoint in a switch, by checkpoint loaded")
                .tag("checkpoint", checkpoint)
                .register(registry);
    }

    /** A new value of the {@code checkpoint} tag: its switch series are registered at 0. */
    public void checkpointSeen(String checkpoint) {
        switchCounter(checkpoint);
        switchTimer(checkpoint);
    }

    /**
     * A txt2img loaded {@code checkpoint} (a bounded tag value) instead of the one loaded before.
     *
     * @param loadNanos the part of the call spent loading, or a negative value when it is not known yet
     */
    public void checkpointSwitched(String checkpoint, long loadNanos) {
        switchCounter(checkpoint).increment();
        if (loadNanos >= 0) {
            switchTimer(checkpoint).record(loadNanos, TimeUnit.NANOSECONDS);
        }
    }

    /** Forge ran another model than asked for ({@link #MISMATCH_RETRIED} or {@link #MISMATCH_FAILED}). */
    public void modelMismatch(String outcome) {
        if (!outcome.equals(MISMATCH_RETRIED) && !outcome.equals(MISMATCH_FAILED)) {
            throw new IllegalArgumentException("unknown mismatch outcome " + outcome);
        }
        mismatchCounter(outcome).increment();
    }

    /** A txt2img request is sent ({@link System#nanoTime()}). */
    public void txt2imgStarted(long nowNanos) {
        gpuTime.callStarted(nowNanos);
    }

    /**
     * The txt2img request ended (answered, failed or abandoned).
     *
     * @param loadNanos the part of it spent loading a checkpoint (0 when none or unknown)
     */
    public void txt2imgEnded(long nowNanos, long loadNanos) {
        gpuTime.callEnded(nowNanos, loadNanos);
    }

    /** Seconds of GPU time so far in {@code activity} ({@link #GENERATING}, {@link #LOADING}, {@link #IDLE}). */
    public double gpuSeconds(String activity) {
        return gpuTime.seconds(activity, System.nanoTime());
    }

    private Counter foreignCounter(String event) {
        return Counter.builder("gpu.worker.forge.foreign")
                .description("What this worker saw of other clients of its Forge, by event")
                .tag("event", event)
                .register(registry);
    }

    /** Something about another client of this worker's Forge ({@link #FOREIGN_EVENTS}). */
    public void forgeForeign(String event) {
        if (!FOREIGN_EVENTS.contains(event)) {
            throw new IllegalArgumentException("unknown foreign event " + event);
        }
        foreignCounter(event).increment();
    }

    /** A txt2img starts or stops waiting for Forge to finish another client's job. */
    public void forgeBusyWaiting(boolean waiting) {
        busyWaiting.set(waiting ? 1 : 0);
    }

    /** A wait for Forge to finish another client's job is over (Forge idle, timeout or job stopped). */
    public void forgeBusyWait(long nanos) {
        busyWait.record(Math.max(0, nanos), TimeUnit.NANOSECONDS);
    }

    private Counter jobsCounter(String outcome, ErrorCode code) {
        return Counter.builder("gpu.worker.jobs")
                .description("Jobs handled, by outcome")
                .tag("outcome", outcome)
                .tag("code", code == null ? "none" : code.name())
                .register(registry);
    }

    private Counter eventsCounter(String type, String result) {
        return Counter.builder("gpu.worker.events")
                .description("Status events published")
                .tag("type", type)
                .tag("result", result)
                .register(registry);
    }

    private Counter retriesCounter(String reason) {
        return Counter.builder("gpu.worker.forge.retries")
                .description("Forge calls retried")
                .tag("reason", reason)
                .register(registry);
    }

    private Counter transitionsCounter(String state) {
        return Counter.builder("gpu.worker.forge.breaker.transitions")
                .description("Forge circuit breaker transitions")
                .tag("state", state)
                .register(registry);
    }

    /** A job's handling ended with this outcome ({@code succeeded}, {@code failed}, ...); {@code code} may be null. */
    public void jobFinished(String outcome, ErrorCode code) {
        jobsCounter(outcome, code).increment();
    }

    /** One Forge HTTP call ({@code txt2img}, {@code progress}, {@code interrupt}, {@code probe}) and how it ended. */
    public void forgeCall(String call, String outcome, long nanos) {
        Timer.builder("gpu.worker.forge.calls")
                .description("Forge HTTP calls")
                .tag("call", call)
                .tag("outcome", outcome.toLowerCase(Locale.ROOT))
                .publishPercentileHistogram()
                .register(registry)
                .record(nanos, TimeUnit.NANOSECONDS);
    }

    /** A Forge call is retried ({@code outage} or {@code failure}). */
    public void forgeRetry(String reason) {
        retriesCounter(reason).increment();
    }

    /** The Forge circuit breaker moved: 0 closed, 1 half-open, 2 open. */
    public void breakerState(int state, String name) {
        breakerState.set(state);
        transitionsCounter(name).increment();
    }

    /** Whether the job container consumes. */
    public void consuming(boolean on) {
        consuming.set(on ? 1 : 0);
        gpuTime.consuming(on, System.nanoTime());
    }

    /** A status event was published ({@code result}: confirmed, unconfirmed, returned, sent). */
    public void event(String type, String result) {
        eventsCounter(type, result).increment();
    }

    /** One turnaround stage ({@link #PREPARE}, {@link #RESULT}, {@link #CONFIRM}) took this long. */
    public void turnaround(String stage, long nanos) {
        Timer timer = turnaround.get(stage);
        if (timer == null) {
            throw new IllegalArgumentException("unknown turnaround stage " + stage);
        }
        timer.record(Math.max(0, nanos), TimeUnit.NANOSECONDS);
    }

    /** The listener took a delivery (call at the very start of the listener). */
    public void jobHandlingStarted() {
        long gap = dutyCycle.start(System.nanoTime());
        if (gap >= 0) {
            idleGap.record(gap, TimeUnit.NANOSECONDS);
        }
    }

    /** The listener is about to return (call in its finally block). */
    public void jobHandlingEnded() {
        dutyCycle.end(System.nanoTime());
    }

    /** Share of busy time, for tests and logs. */
    public double dutyCycle() {
        return dutyCycle.ratio(System.nanoTime());
    }

    /** Busy/idle bookkeeping; synchronized because the scrape thread reads while the listener writes. */
    static final class DutyCycle {
        private long firstStart = -1;
        private long busyStart = -1;
        private long lastEnd = -1;
        private long busyNanos;

        /** @return nanoseconds since the previous job ended, or -1 for the first job */
        synchronized long start(long now) {
            if (firstStart < 0) {
                firstStart = now;
            }
            busyStart = now;
            return lastEnd < 0 ? -1 : now - lastEnd;
        }

        synchronized void end(long now) {
            if (busyStart >= 0) {
                busyNanos += now - busyStart;
                busyStart = -1;
            }
            lastEnd = now;
        }

        synchronized double busySeconds(long now) {
            return busy(now) / 1e9;
        }

        synchronized double idleSeconds(long now) {
            return firstStart < 0 ? 0 : (now - firstStart - busy(now)) / 1e9;
        }

        synchronized double ratio(long now) {
            if (firstStart < 0 || now <= firstStart) {
                return 0;
            }
            return (double) busy(now) / (now - firstStart);
        }

        private long busy(long now) {
            return busyNanos + (busyStart >= 0 ? now - busyStart : 0);
        }
    }

    /**
     * The worker's GPU time by activity, from its first txt2img on: a call in flight is generating or loading (the
     * split is known when it ends, so it is counted then), the time without one while consuming is idle, and a
     * pause counts nowhere. Monotonic (function counters); synchronized because the scrape thread reads while the
     * listener writes.
     */
    static final class GpuTime {
        private long callStart = -1;
        private long idleStart = -1;
        private boolean started;
        private boolean consuming = true;
        private long generatingNanos;
        private long loadingNanos;
        private long idleNanos;

        synchronized void callStarted(long now) {
            closeIdle(now);
            started = true;
            callStart = now;
        }

        synchronized void callEnded(long now, long loadNanos) {
            if (callStart < 0) {
                return;
            }
            long took = Math.max(0, now - callStart);
            long load = Math.min(Math.max(0, loadNanos), took);
            loadingNanos += load;
            generatingNanos += took - load;
            callStart = -1;
            if (consuming) {
                idleStart = now;
            }
        }

        synchronized void consuming(boolean on, long now) {
            if (!on) {
                closeIdle(now);
            } else if (!consuming && started && callStart < 0) {
                idleStart = now;
            }
            consuming = on;
        }

        synchronized double seconds(String activity, long now) {
            long nanos = switch (activity) {
                case GENERATING -> generatingNanos;
                case LOADING -> loadingNanos;
                case IDLE -> idleNanos + (idleStart >= 0 ? Math.max(0, now - idleStart) : 0);
                default -> throw new IllegalArgumentException("unknown activity " + activity);
            };
            return nanos / 1e9;
        }

        private void closeIdle(long now) {
            if (idleStart >= 0) {
                idleNanos += Math.max(0, now - idleStart);
                idleStart = -1;
            }
        }
    }
}
