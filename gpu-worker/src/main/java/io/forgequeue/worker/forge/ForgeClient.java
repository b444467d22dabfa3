package io.forgequeue.worker.forge;

import dev.failsafe.CircuitBreaker;
import dev.failsafe.CircuitBreakerOpenException;
import dev.failsafe.FailsafeExecutor;
import dev.failsafe.TimeoutExceededException;
import io.forgequeue.model.GeneratedImage;
import io.forgequeue.model.JobSpec;
import io.forgequeue.worker.system.WorkerMetrics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.json.JsonMapper;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;

/**
 * The worker's way to Forge: txt2img through the Failsafe policies, plus progress polling, interrupt and health
 * probes. Built once by {@link ForgeConfiguration}. Thread-safe; meant for one job at a time (forge-api.md §11.1:
 * one txt2img in flight per server), while other threads poll, interrupt or probe.
 *
 * <p>Failures surface as {@link ForgeException}, {@link TimeoutExceededException} (the call timeout, after
 * retries), {@link CircuitBreakerOpenException} (Forge is considered down) or {@link CallStoppedException}.
 */
public class ForgeClient {

    private static final Logger log = LoggerFactory.getLogger(ForgeClient.class);
    private static final long SETTLE_POLL_MILLIS = 250;

    private final ForgeApi api;
    private final FailsafeExecutor<Object> jobCalls;
    private final FailsafeExecutor<Object> timedCall;
    private final FailsafeExecutor<Object> probes;
    private final CircuitBreaker<Object> breaker;
    private final ForgeProperties props;
    private final WorkerMetrics metrics;
    private final JsonMapper json;
    private final ForgeCatalog catalog;

    /** True while our own txt2img request is outstanding. */
    private final AtomicBoolean txt2imgInFlight = new AtomicBoolean();
    /** Set when a txt2img was abandoned (timeout, dropped connection): Forge may still be generating it. */
    private volatile boolean abandonedCallMayRun;

    ForgeClient(ForgeApi api, FailsafeExecutor<Object> jobCalls, FailsafeExecutor<Object> timedCall,
                FailsafeExecutor<Object> probes, CircuitBreaker<Object> breaker, ForgeProperties props,
                WorkerMetrics metrics, JsonMapper json) {
        this.api = api;
        this.jobCalls = jobCalls;
        this.timedCall = timedCall;
        this.probes = probes;
        this.breaker = breaker;
        this.props = props;
        this.metrics = metrics;
        this.json = json;
        this.catalog = new ForgeCatalog(api::getJson);
    }

    /**
     * Generates the job's images. Blocks for the whole generation, retries included.
     *
     * <p>First the spec's sampler, scheduler and checkpoint are checked against Forge's lists, because Forge would
     * silently use its defaults instead of an unknown name ({@link ForgeFailure#REJECTED}, not retried).
     *
     * @param stop checked before every attempt; when true the attempt is not made ({@link CallStoppedException})
     * @return the images (possibly fewer than asked, or none, when Forge was interrupted)
     */
    public Txt2ImgResult generate(UUID jobId, JobSpec spec, BooleanSupplier stop) {
        catalog.problemWith(spec).ifPresent(problem -> {
            throw new ForgeException(ForgeFailure.REJECTED, 0, null, ForgeErrors.shorten(problem), false,
                    "Forge would silently replace a setting: " + problem, null);
        });
        Txt2ImgRequest request = Txt2ImgRequest.of(jobId, spec);
        return (Txt2ImgResult) jobCalls.get(ctx -> attempt(request, spec, stop, ctx.isFirstAttempt()));
    }

    private Txt2ImgResult attempt(Txt2ImgRequest request, JobSpec spec, BooleanSupplier stop, boolean firstTry) {
        if (stop.getAsBoolean()) {
            throw new CallStoppedException();
        }
        settleAbandonedCall();
        if (stop.getAsBoolean()) {
            throw new CallStoppedException();
        }
        long start = System.nanoTime();
        long answered = start;
        boolean answer = false;
        String outcome = "success";
        txt2imgInFlight.set(true);
        try {
            ForgeApi.RawResult raw = (ForgeApi.RawResult) timedCall.get(() -> api.txt2img(request));
            answered = System.nanoTime();
            answer = true;
            long millis = TimeUnit.NANOSECONDS.toMillis(answered - start);
            ForgeInfo info = ForgeInfo.parse(raw.info(), json);
            List<GeneratedImage> images = ResultImages.pair(raw.images(), info, spec.batchSize(), spec.seed());
            Map<String, Object> metadata = new LinkedHashMap<>(info.toMetadata());
            metadata.put("forgeMillis", millis);
            metadata.put("imagesReturned", raw.images().size());
            return new Txt2ImgResult(images, metadata, millis, raw.images().size(), start, answered, firstTry);
        } catch (TimeoutExceededException e) {
            outcome = "timeout";
            abandonedCallMayRun = true;
            log.warn("Forge txt2img did not answer within {} ms; abandoned", props.callTimeout().toMillis());
            throw e;
        } catch (ForgeException e) {
            outcome = e.failure().name();
            if (e.mayStillRun()) {
                abandonedCallMayRun = true;
            }
            throw e;
        } finally {
            txt2imgInFlight.set(false);
            // the HTTP call alone: reading the images out of the answer is the worker's time (turnaround "result")
            metrics.forgeCall(ForgeApi.TXT2IMG, outcome, (answer ? answered : System.nanoTime()) - start);
        }
    }

    /**
     * After an abandoned txt2img, Forge keeps generating (there is no cancel on disconnect): interrupt it and wait,
     * bounded by {@code settle-timeout}, until Forge is idle, so the next job does not queue behind an orphan
     * (forge-api.md §11.11). An outage here fails the attempt like any other outage.
     */
    private void settleAbandonedCall() {
        if (!abandonedCallMayRun) {
            return;
        }
        long deadline = System.nanoTime() + props.settleTimeout().toNanos();
        boolean interruptSent = false;
        while (true) {
            ProgressSnapshot state = timedProgress(false);
            if (!state.busy()) {
                abandonedCallMayRun = false;
                log.info("Forge is idle; the abandoned txt2img is over");
                return;
            }
            if (!interruptSent) {
                log.warn("Forge is still running an abandoned txt2img (job_count={}); interrupting it",
                        state.jobCount());
                callInterrupt();
                interruptSent = true;
            }
            if (System.nanoTime() > deadline) {
                throw ForgeException.of(ForgeFailure.TIMEOUT,
                        "Forge was still busy with an abandoned txt2img after " + props.settleTimeout());
            }
            sleep(SETTLE_POLL_MILLIS);
        }
    }

    /**
     * Interrupts Forge, but only while our own txt2img is in flight and Forge reports a running job
     * (forge-api.md §6, §11.5: an interrupt at any other time is lost or kills someone else's next job).
     *
     * @return whether the interrupt was sent
     */
    public boolean interruptOwnCall() {
        if (!txt2imgInFlight.get()) {
            return false;
        }
        try {
            ProgressSnapshot state = timedProgress(false);
            if (!state.busy() || !txt2imgInFlight.get()) {
                return false;
            }
            callInterrupt();
            log.info("Forge interrupted (job_count={})", state.jobCount());
            return true;
        } catch (ForgeException e) {
            log.warn("Could not interrupt Forge: {}", e.getMessage());
            return false;
        }
    }

    /** Whether our txt2img request is outstanding right now. */
    public boolean isCallInFlight() {
        return txt2imgInFlight.get();
    }

    /** Forge's progress, or empty when Forge did not answer; never goes through the breaker (a hint only). */
    public Optional<ProgressSnapshot> progress(boolean withImage) {
        try {
            return Optional.of(timedProgress(withImage));
        } catch (ForgeException e) {
            log.debug("Progress poll failed: {}", e.getMessage());
            return Optional.empty();
        }
    }

    /**
     * A health probe through the circuit breaker: GET /sdapi/v1/progress?skip_current_image=true (works with
     * {@code --nowebui}, behind {@code --api-auth}, and never waits for Forge's lock). While the breaker is open
     * it is rejected without a call; once the breaker's delay is over it is the half-open trial call.
     *
     * @return whether Forge answered
     */
    public boolean probe() {
        try {
            probes.get(() -> timedProgress(false));
            catalog.forgeAnswers();
            return true;
        } catch (CircuitBreakerOpenException e) {
            return false;
        } catch (ForgeException e) {
            log.debug("Forge health probe failed: {}", e.getMessage());
            return false;
        }
    }

    /** The breaker's state. */
    public CircuitBreaker.State breakerState() {
        return breaker.getState();
    }

    /** How long the breaker stays open before a trial call. */
    public Duration breakerDelay() {
        return props.breaker().delay();
    }

    /** The configured limit of one txt2img call. */
    public Duration callTimeout() {
        return props.callTimeout();
    }

    /** Forge's URL without credentials. */
    /**
     * What this Forge offers, for the worker's announcements: its identity (the URL without credentials), the
     * checkpoints by their stable names (model name and title without hash, forge-api.md §7), samplers and
     * schedulers. Empty while Forge's lists cannot be read.
     */
    public Optional<Offer> offer() {
        ForgeCatalog.Lists lists = catalog.lists();
        if (lists == null) {
            return Optional.empty();
        }
        return Optional.of(new Offer(safeUrl(), List.copyOf(new java.util.TreeSet<>(lists.modelNames())),
                List.copyOf(new java.util.TreeSet<>(lists.samplers())),
                List.copyOf(new java.util.TreeSet<>(lists.schedulers()))));
    }

    /**
     * Like {@link #offer()}, but while Forge's lists were never read it asks for them now, not only after the pause
     * that spares a Forge without these lists a call per job. For the announcements, which ask with a backoff of
     * their own: a first read that failed (a slow or restarting Forge) must not leave the worker without an offer for
     * long.
     */
    public Optional<Offer> offerAskingAgain() {
        catalog.forgeAnswers();
        return offer();
    }

    /** What a Forge offers (see {@link #offer()}). */
    public record Offer(String identity, List<String> checkpoints, List<String> samplers, List<String> schedulers) {
    }

    public String safeUrl() {
        return props.safeUrl();
    }

    private ProgressSnapshot timedProgress(boolean withImage) {
        long start = System.nanoTime();
        String outcome = "success";
        try {
            return api.progress(withImage);
        } catch (ForgeException e) {
            outcome = e.failure().name();
            throw e;
        } finally {
            metrics.forgeCall(ForgeApi.PROGRESS, outcome, System.nanoTime() - start);
        }
    }

    private void callInterrupt() {
        long start = System.nanoTime();
        String outcome = "success";
        try {
            api.interrupt();
        } catch (ForgeException e) {
            outcome = e.failure().name();
            throw e;
        } finally {
            metrics.forgeCall(ForgeApi.INTERRUPT, outcome, System.nanoTime() - start);
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw ForgeErrors.interrupted("settle", e);
        }
    }
}
