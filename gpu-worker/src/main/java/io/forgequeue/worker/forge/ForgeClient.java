package io.forgequeue.worker.forge;

import dev.failsafe.CircuitBreaker;
import dev.failsafe.CircuitBreakerOpenException;
import dev.failsafe.FailsafeExecutor;
import dev.failsafe.TimeoutExceededException;
import io.forgequeue.model.GeneratedImage;
import io.forgequeue.model.JobSpec;
import io.forgequeue.worker.system.WorkerMetrics;
import java.net.ConnectException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.json.JsonMapper;

/**
 * The worker's way to Forge: txt2img through the Failsafe policies, plus progress polling, interrupt and health
 * probes. Built once by {@link ForgeConfiguration}. Thread-safe; meant for one job at a time (forge-api.md §11.1:
 * one txt2img in flight per server), while other threads poll, interrupt or probe.
 *
 * <p><b>A Forge shared with other clients</b> (a person in its web UI, another API client). Forge's progress,
 * live preview and interrupt are global (§2, §5, §6), so:
 * <ul>
 *   <li>a txt2img is sent only while Forge is idle: while it runs another client's job the worker waits, up to
 *       {@code busy-timeout}, then gives the job back ({@link ForgeBusyException});</li>
 *   <li>progress and previews are read through {@link #ownProgress}, which gives them only while Forge works on this
 *       worker's request ({@link CallWatch}: exact with {@code force_task_id} and /internal/progress in WebUI mode,
 *       a cautious judgement from the global state in API-only mode);</li>
 *   <li>{@link #interruptOwnCall} and the interrupt of an abandoned request are sent only when the job Forge runs
 *       is provably this worker's;</li>
 *   <li>a generation someone else interrupted is reported as such ({@link Txt2ImgResult#interruptedElsewhere()}),
 *       so that its unfinished images are never the job's result.</li>
 * </ul>
 *
 * <p><b>Models</b>: after each txt2img the model Forge reports it used ({@code info.sd_model_name},
 * {@code sd_model_hash}) tells which checkpoint is loaded now and, with the call's duration, this Forge's speed and
 * load times ({@link ForgeModels}); all three go into {@link #offer()}. A job that names a checkpoint is verified
 * ({@link ModelCheck}): when another model ran, its images are not delivered, Forge is asked to load the requested
 * one (POST /sdapi/v1/options) and the job runs once more; a second mismatch is a {@link ModelMismatchException}.
 *
 * <p>Failures surface as {@link ForgeException}, {@link TimeoutExceededException} (the call timeout, after
 * retries), {@link CircuitBreakerOpenException} (Forge is considered down), {@link ForgeBusyException},
 * {@link ModelMismatchException} or {@link CallStoppedException}.
 */
public class ForgeClient {

    private static final Logger log = LoggerFactory.getLogger(ForgeClient.class);
    /** How often Forge's state is read while waiting for it to be idle. */
    private static final long IDLE_POLL_MILLIS = 250;
    /**
     * An idle state read this recently, and after the previous answer (typically the check right after that answer),
     * stands for the check before the next txt2img, so that a backlog costs no extra round trip between two jobs. A
     * job another client starts within this window is not seen before the send: the txt2img then queues behind it in
     * Forge's lock, and attribution still holds (WebUI mode) or ends at the second job (API-only mode).
     */
    private static final long RECENT_IDLE_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

    private final ForgeApi api;
    private final FailsafeExecutor<Object> jobCalls;
    private final FailsafeExecutor<Object> timedCall;
    private final FailsafeExecutor<Object> probes;
    private final CircuitBreaker<Object> breaker;
    private final ForgeProperties props;
    private final WorkerMetrics metrics;
    private final JsonMapper json;
    private final ForgeCatalog catalog;
    private final ForgeIdentity identity;
    private final ForgeModels models;
    private final ModelProperties modelProps;
    private volatile String lastProbeFailure;

    /** Our txt2img request outstanding right now, or null. */
    private volatile CallWatch current;
    /** The last txt2img that was abandoned (timeout, dropped connection): Forge may still be generating it. */
    private volatile CallWatch abandoned;
    /** When the last progress request that found Forge idle was sent. */
    private volatile long lastIdleNanos;

    private volatile boolean idleSeen;
    /** When the last txt2img answer arrived. */
    private volatile long lastAnswerNanos;

    private volatile boolean taskApiMissingLogged;

    ForgeClient(
            ForgeApi api,
            FailsafeExecutor<Object> jobCalls,
            FailsafeExecutor<Object> timedCall,
            FailsafeExecutor<Object> probes,
            CircuitBreaker<Object> breaker,
            ForgeProperties props,
            WorkerMetrics metrics,
            JsonMapper json,
            ForgeIdentity identity,
            ModelProperties modelProps) {
        this.api = api;
        this.jobCalls = jobCalls;
        this.timedCall = timedCall;
        this.probes = probes;
        this.breaker = breaker;
        this.props = props;
        this.metrics = metrics;
        this.json = json;
        this.catalog = new ForgeCatalog(api::getJson);
        this.identity = identity;
        this.modelProps = modelProps;
        this.models = new ForgeModels(metrics, modelProps.taggedCheckpoints());
    }

    /**
     * Generates the job's images. Blocks for the whole generation, retries included, and before each attempt until
     * Forge is idle.
     *
     * <p>First the spec's sampler, scheduler and checkpoint are checked against Forge's lists, because Forge would
     * silently use its defaults instead of an unknown name ({@link ForgeFailure#REJECTED}, not retried).
     *
     * <p>Then, when the job names a checkpoint, the model that ran is verified (see the class comment): on a
     * mismatch Forge is asked to load the requested checkpoint and the job runs once more.
     *
     * @param stop checked before every attempt and while waiting for Forge; when true the attempt is not made
     *             ({@link CallStoppedException})
     * @return the images (possibly fewer than asked, or none, when Forge was interrupted)
     * @throws ForgeBusyException Forge ran another client's job for longer than {@code busy-timeout}
     * @throws ModelMismatchException Forge ran another model than requested, also on the second try
     */
    public Txt2ImgResult generate(UUID jobId, JobSpec spec, BooleanSupplier stop) {
        catalog.problemWith(spec).ifPresent(problem -> {
            throw new ForgeException(
                    ForgeFailure.REJECTED,
                    0,
                    null,
                    ForgeErrors.shorten(problem),
                    false,
                    "Forge would silently replace a setting: " + problem,
                    null);
        });
        Txt2ImgRequest request = Txt2ImgRequest.of(jobId, spec);
        Generated first = (Generated) jobCalls.get(ctx -> attempt(jobId, request, spec, stop, ctx.isFirstAttempt()));
        if (first.verdict().kind() != ModelCheck.Kind.MISMATCH) {
            return first.result();
        }
        ModelCheck.Verdict wrong = first.verdict();
        if (stop.getAsBoolean()) {
            throw new CallStoppedException();
        }
        try {
            selectCheckpoint(spec.checkpoint());
        } catch (ForgeException e) {
            if (e.failure().isOutage()) {
                throw e;
            }
            metrics.modelMismatch(WorkerMetrics.MISMATCH_FAILED);
            log.warn(
                    "Job(id={}) Forge at {} ran model {} instead of {} and refused to load {} ({})",
                    jobId,
                    identity,
                    wrong.used(),
                    wrong.requested(),
                    wrong.requested(),
                    e.getMessage());
            throw new ModelMismatchException(wrong.requested(), wrong.used(), e.getMessage());
        }
        metrics.modelMismatch(WorkerMetrics.MISMATCH_RETRIED);
        log.warn(
                "Job(id={}) Forge at {} ran model {} instead of {}; its images are dropped, Forge was asked to load {} "
                        + "and the job runs once more",
                jobId,
                identity,
                wrong.used(),
                wrong.requested(),
                wrong.requested());
        Generated second = (Generated) jobCalls.get(ctx -> attempt(jobId, request, spec, stop, false));
        if (second.verdict().kind() != ModelCheck.Kind.MISMATCH) {
            return second.result();
        }
        metrics.modelMismatch(WorkerMetrics.MISMATCH_FAILED);
        log.warn(
                "Job(id={}) Forge at {} ran model {} instead of {} again; the job fails",
                jobId,
                identity,
                second.verdict().used(),
                second.verdict().requested());
        throw new ModelMismatchException(
                second.verdict().requested(), second.verdict().used(), null);
    }

    /** One answered call: its result, what the check of the model that ran found, and its load part. */
    private record Generated(Txt2ImgResult result, ModelCheck.Verdict verdict, long loadNanos) {}

    /** POST /sdapi/v1/options {"sd_model_checkpoint": name}: Forge loads it with its next generation. */
    private void selectCheckpoint(String checkpoint) {
        long start = System.nanoTime();
        String outcome = "success";
        try {
            models.selected();
            api.setOptions(Map.of("sd_model_checkpoint", checkpoint));
        } catch (ForgeException e) {
            outcome = e.failure().name();
            throw e;
        } finally {
            metrics.forgeCall(ForgeApi.OPTIONS, outcome, System.nanoTime() - start);
        }
    }

    private Generated attempt(
            UUID jobId, Txt2ImgRequest request, JobSpec spec, BooleanSupplier stop, boolean firstTry) {
        if (stop.getAsBoolean()) {
            throw new CallStoppedException();
        }
        awaitIdleForge(jobId, stop);
        if (stop.getAsBoolean()) {
            throw new CallStoppedException();
        }
        CallWatch watch = new CallWatch(taskIdFor(jobId), spec.steps());
        Txt2ImgRequest sent = request.withTaskId(watch.taskId());
        long start = System.nanoTime();
        long answered = start;
        boolean answer = false;
        String outcome = "success";
        current = watch;
        metrics.txt2imgStarted(start);
        ForgeApi.RawResult raw;
        try {
            raw = (ForgeApi.RawResult) timedCall.get(() -> api.txt2img(sent));
            answered = System.nanoTime();
            answer = true;
            lastAnswerNanos = answered;
        } catch (TimeoutExceededException e) {
            outcome = "timeout";
            abandoned = watch;
            log.warn(
                    "Forge txt2img did not answer within {} ms; abandoned",
                    props.callTimeout().toMillis());
            throw e;
        } catch (ForgeException e) {
            outcome = e.failure().name();
            if (e.mayStillRun()) {
                abandoned = watch;
            }
            if (e.failure() == ForgeFailure.TIMEOUT) {
                // the job's own call ran out of time: about the job, not Forge's health (see ForgeConfiguration)
                throw new ForgeException(
                        ForgeFailure.CALL_TIMEOUT,
                        e.httpStatus(),
                        e.forgeError(),
                        e.forgeMessage(),
                        e.mayStillRun(),
                        e.getMessage(),
                        e);
            }
            throw e;
        } finally {
            current = null;
            // the HTTP call alone: reading the images out of the answer is the worker's time (turnaround "result")
            metrics.forgeCall(ForgeApi.TXT2IMG, outcome, (answer ? answered : System.nanoTime()) - start);
            if (!answer) {
                metrics.txt2imgEnded(System.nanoTime(), 0);
                models.unknown("a txt2img failed or was abandoned");
            }
        }
        Generated generated = null;
        try {
            generated = answered(jobId, spec, raw, watch, start, answered, firstTry);
            return generated;
        } finally {
            metrics.txt2imgEnded(answered, generated == null ? 0 : generated.loadNanos());
        }
    }

    private Generated answered(
            UUID jobId,
            JobSpec spec,
            ForgeApi.RawResult raw,
            CallWatch watch,
            long start,
            long answered,
            boolean firstTry) {
        long millis = TimeUnit.NANOSECONDS.toMillis(answered - start);
        ForgeInfo info = ForgeInfo.parse(raw.info(), json);
        List<GeneratedImage> images = ResultImages.pair(raw.images(), info, spec.batchSize(), spec.seed());
        CallWatch.Interruption interruption =
                watch.conclude(info.jobTimestamp(), raw.images().isEmpty(), this::progressAfterAnswer);
        boolean elsewhere = interruption == CallWatch.Interruption.ELSEWHERE;
        List<Checkpoint> listed = listedModels();
        boolean complete = interruption == CallWatch.Interruption.NONE && images.size() >= spec.batchSize();
        ForgeModels.Run run = models.answered(spec, info, listed, answered - start, complete);
        ModelCheck.Verdict verdict = spec.checkpoint() == null || !modelProps.verify() || elsewhere || images.isEmpty()
                ? new ModelCheck.Verdict(ModelCheck.Kind.UNKNOWN, spec.checkpoint(), run.ran())
                : ModelCheck.verify(spec.checkpoint(), info, listed);
        if (elsewhere) {
            metrics.forgeForeign(WorkerMetrics.INTERRUPTED);
            log.warn(
                    "Forge's txt2img for Job(id={}) was interrupted by another client of {} ({} image(s) came "
                            + "back unfinished)",
                    jobId,
                    identity,
                    raw.images().size());
        }
        Map<String, Object> metadata = new LinkedHashMap<>(info.toMetadata());
        metadata.put("forgeMillis", millis);
        if (run.anyLoadNanos() > 0) {
            // the part of forgeMillis that loaded a checkpoint: the gateway's job times (ETAs) leave it out
            metadata.put("loadMillis", TimeUnit.NANOSECONDS.toMillis(run.anyLoadNanos()));
        }
        if (run.loadUnsplit()) {
            metadata.put("loadUnsplit", true); // perhaps a load of unknown length: not a job time to learn from
        }
        metadata.put("imagesReturned", raw.images().size());
        if (verdict.kind() == ModelCheck.Kind.MATCH) {
            metadata.put("modelVerified", true);
        }
        return new Generated(
                new Txt2ImgResult(images, metadata, millis, raw.images().size(), start, answered, firstTry, elsewhere),
                verdict,
                run.loadNanos());
    }

    /**
     * The listed checkpoints as last read, without a call (empty before Forge's lists were read): nothing may delay
     * the outcome of an answered job.
     */
    private List<Checkpoint> listedModels() {
        ForgeCatalog.Lists lists = catalog.lastRead();
        return lists == null ? List.of() : lists.models();
    }

    /** A {@code force_task_id} of its own for every request, also for retries of one job (§5). */
    private static String taskIdFor(UUID jobId) {
        byte[] random = new byte[4];
        ThreadLocalRandom.current().nextBytes(random);
        return jobId + "-" + HexFormat.of().formatHex(random);
    }

    /** Forge's state right after an answer, to read the flags the answered job left; null when it cannot be read. */
    private ProgressSnapshot progressAfterAnswer() {
        try {
            return timedProgress(false);
        } catch (ForgeException e) {
            log.debug("Progress after the answer not read: {}", e.getMessage());
            return null;
        }
    }

    /**
     * Before a txt2img, Forge must be idle (forge-api.md §11.1, §11.11):
     * <ul>
     *   <li>while it still runs a txt2img this worker abandoned (timeout, dropped connection: there is no cancel on
     *       disconnect), that one is interrupted and the wait is bounded by {@code settle-timeout}. Only when it is
     *       provably ours: its task is active (WebUI mode), or the job Forge runs is the one attributed to it while
     *       it was outstanding (API-only mode). After a Forge restart, or when the running job is someone else's
     *       (another worker's retry, a person in the web UI), nothing is interrupted;</li>
     *   <li>while it runs another client's job, the txt2img waits, bounded by {@code busy-timeout}
     *       ({@link ForgeBusyException}), logged and counted ({@code gpu.worker.forge.busy.*}).</li>
     * </ul>
     * An outage here fails the attempt like any other outage.
     */
    private void awaitIdleForge(UUID jobId, BooleanSupplier stop) {
        CallWatch orphan = abandoned;
        long idleAt = lastIdleNanos;
        if (orphan == null
                && idleSeen
                && idleAt - lastAnswerNanos > 0
                && System.nanoTime() - idleAt < RECENT_IDLE_NANOS) {
            return;
        }
        long start = System.nanoTime();
        long settleDeadline = 0;
        boolean interruptSent = false;
        boolean waiting = false;
        boolean withheldCounted = false;
        try {
            while (true) {
                ProgressSnapshot state = timedProgress(false);
                if (!state.busy()) {
                    if (orphan != null) {
                        abandoned = null;
                        log.info("Forge is idle; the abandoned txt2img is over");
                    }
                    if (waiting) {
                        log.info(
                                "Job(id={}) goes on: Forge is idle after {} ms",
                                jobId,
                                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
                    }
                    return;
                }
                long now = System.nanoTime();
                if (orphan != null && runsAbandonedCall(orphan, state)) {
                    if (!interruptSent) {
                        log.warn(
                                "Forge is still running our abandoned txt2img (job_count={}); interrupting it",
                                state.jobCount());
                        orphan.markOwnInterrupt();
                        callInterrupt();
                        interruptSent = true;
                        settleDeadline = now + props.settleTimeout().toNanos();
                    } else if (now > settleDeadline) {
                        throw ForgeException.of(
                                ForgeFailure.TIMEOUT,
                                "Forge was still busy with an abandoned txt2img after " + props.settleTimeout());
                    }
                } else {
                    if (orphan != null && !interruptSent && !withheldCounted) {
                        withheldCounted = true;
                        metrics.forgeForeign(WorkerMetrics.INTERRUPT_WITHHELD);
                        log.info("Forge runs a job that is not provably our abandoned txt2img; it is not interrupted");
                    }
                    if (!waiting) {
                        waiting = true;
                        models.unknown("another client's job runs on Forge");
                        metrics.forgeBusyWaiting(true);
                        metrics.forgeForeign(WorkerMetrics.BUSY_WAIT);
                        log.warn(
                                "Job(id={}) waits: Forge at {} is busy with another client's job (job '{}', step "
                                        + "{}/{}); its txt2img is sent once Forge is idle, at most {} from now",
                                jobId,
                                identity,
                                state.job(),
                                state.samplingStep(),
                                state.samplingSteps(),
                                props.busyTimeout());
                    }
                    if (now - start > props.busyTimeout().toNanos()) {
                        metrics.forgeForeign(WorkerMetrics.BUSY_TIMEOUT);
                        log.warn(
                                "Job(id={}) not started: Forge was busy with another client's job for {}",
                                jobId,
                                props.busyTimeout());
                        throw new ForgeBusyException(Duration.ofNanos(now - start));
                    }
                }
                if (stop.getAsBoolean()) {
                    throw new CallStoppedException();
                }
                sleep(IDLE_POLL_MILLIS);
            }
        } finally {
            if (waiting) {
                metrics.forgeBusyWaiting(false);
                metrics.forgeBusyWait(System.nanoTime() - start);
            }
        }
    }

    /** Whether the busy Forge runs our abandoned request (see {@link #awaitIdleForge}). */
    private boolean runsAbandonedCall(CallWatch orphan, ProgressSnapshot state) {
        TaskProgress task = taskProgress(orphan, false);
        if (task != null) {
            return task.active();
        }
        return orphan.stillRuns(state);
    }

    /**
     * Interrupts Forge, but only while our own txt2img is in flight and the job Forge runs is provably it
     * (forge-api.md §6, §11.5: an interrupt at any other time is lost, kills someone else's job, or kills the next
     * client's). While our request still waits behind another client's job this returns false; the caller tries
     * again later.
     *
     * @return whether the interrupt was sent
     */
    public boolean interruptOwnCall() {
        CallWatch watch = current;
        if (watch == null) {
            return false;
        }
        try {
            boolean ours;
            boolean otherRuns;
            TaskProgress task = taskProgress(watch, false);
            if (task != null) {
                ours = task.active();
                otherRuns = !ours && task.queued();
            } else {
                ProgressSnapshot state = timedProgress(false);
                ours = watch.attribute(state);
                otherRuns = !ours && state.busy();
            }
            if (!ours || current != watch) {
                if (otherRuns && watch.markInterruptWithheld()) {
                    metrics.forgeForeign(WorkerMetrics.INTERRUPT_WITHHELD);
                    log.info("Not interrupting Forge: the job it runs is not ours (ours waits or cannot be told "
                            + "apart); trying again later");
                }
                return false;
            }
            watch.markOwnInterrupt();
            callInterrupt();
            log.info("Forge interrupted (our task {})", watch.taskId());
            return true;
        } catch (ForgeException e) {
            log.warn("Could not interrupt Forge: {}", e.getMessage());
            return false;
        }
    }

    /** Whether our txt2img request is outstanding right now. */
    public boolean isCallInFlight() {
        return current != null;
    }

    /**
     * Progress and live preview of our own txt2img, or empty: when no request of ours is outstanding, when Forge
     * does not answer, and whenever the job Forge runs is not provably ours (another client's job ahead of ours, or
     * after it). Never goes through the breaker (a hint only). See {@link CallWatch} for how "ours" is decided.
     *
     * @param withImage whether to ask for the live preview (costs bandwidth)
     */
    public Optional<OwnProgress> ownProgress(boolean withImage) {
        CallWatch watch = current;
        if (watch == null) {
            return Optional.empty();
        }
        try {
            TaskProgress task = taskProgress(watch, withImage);
            if (task != null) {
                if (!task.active()) {
                    if (task.queued()) {
                        otherJobSeen(watch);
                    }
                    return Optional.empty();
                }
                if (task.livePreview() != null) {
                    watch.lastPreviewId(task.idLivePreview());
                }
                flagsOfOurJob(watch);
                return Optional.of(OwnProgress.of(task, watch.steps()));
            }
            ProgressSnapshot state = timedProgress(withImage);
            if (!watch.attribute(state)) {
                if (state.busy()) {
                    otherJobSeen(watch);
                }
                return Optional.empty();
            }
            return Optional.of(OwnProgress.of(state, watch.steps()));
        } catch (ForgeException e) {
            log.debug("Progress poll failed: {}", e.getMessage());
            return Optional.empty();
        }
    }

    /** WebUI mode: our task holds the lock, so the global state read now is our job's (its flags, its timestamp). */
    private void flagsOfOurJob(CallWatch watch) {
        try {
            watch.observeTask(timedProgress(false));
        } catch (ForgeException e) {
            log.debug("Progress poll failed: {}", e.getMessage());
        }
    }

    private void otherJobSeen(CallWatch watch) {
        if (watch.markOtherJobSeen()) {
            metrics.forgeForeign(WorkerMetrics.PROGRESS_WITHHELD);
            log.info(
                    "Forge runs another client's job during our txt2img (task {}); its progress and previews are "
                            + "not reported",
                    watch.taskId());
        }
    }

    /**
     * Forge's progress, whatever job it runs (maybe another client's), or empty when Forge did not answer; never
     * goes through the breaker (a hint only). For our own job use {@link #ownProgress}.
     */
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
            lastProbeFailure = null;
            return true;
        } catch (CircuitBreakerOpenException e) {
            return false;
        } catch (ForgeException e) {
            log.debug("Forge health probe failed: {}", e.getMessage());
            lastProbeFailure = e.getMessage();
            return false;
        }
    }

    /** Why the last health probe that reached the call failed (e.g. a TLS handshake), "unknown" when none did. */
    public String lastProbeFailure() {
        String failure = lastProbeFailure;
        return failure == null ? "unknown" : failure;
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

    /**
     * What this Forge offers, for the worker's announcements: its identity ({@link #forgeIdentity()}), the
     * checkpoints by their stable names (model name and title without hash, forge-api.md §7), samplers and
     * schedulers from its lists as last read, and the checkpoint loaded now and the measured load times and speed
     * ({@link ForgeModels}), e.g. as the job that just ended left them. Never calls Forge (announcements must never
     * wait for it): empty before the lists were first read ({@link #refreshCatalog()}).
     */
    public Optional<Offer> offer() {
        return offerFrom(catalog.lastRead());
    }

    private Optional<Offer> offerFrom(ForgeCatalog.Lists lists) {
        if (lists == null) {
            return Optional.empty();
        }
        Map<String, Double> loads = new java.util.TreeMap<>();
        models.loadSeconds().forEach((name, seconds) -> loads.put(name, roughly(seconds)));
        Double perStep = models.secondsPerStep();
        return Optional.of(new Offer(
                identity.value(),
                List.copyOf(new java.util.TreeSet<>(lists.modelNames())),
                List.copyOf(new java.util.TreeSet<>(lists.samplers())),
                List.copyOf(new java.util.TreeSet<>(lists.schedulers())),
                models.loaded(),
                loads,
                perStep == null ? null : roughly(perStep)));
    }

    /**
     * Three significant digits: the measured figures move a little with every job, and an offer that changes is
     * announced at once; a change below 1 % tells the scheduler nothing.
     */
    static double roughly(double value) {
        if (!(value > 0) || Double.isInfinite(value)) {
            return value;
        }
        return new java.math.BigDecimal(value)
                .round(new java.math.MathContext(3))
                .doubleValue();
    }

    /**
     * Reads Forge's lists now, even during the pause after a failed read: the periodic refresh
     * ({@code worker.models.catalog-refresh}), so that a model added on the server is offered (an offer that changed
     * is announced at once), and the announcements' first reads.
     *
     * @return whether the lists could be read
     */
    public boolean refreshCatalog() {
        ForgeCatalog.Lists lists = catalog.refreshNow();
        if (lists == null) {
            return false;
        }
        models.offered(List.copyOf(new java.util.TreeSet<>(
                lists.models().stream().map(Checkpoint::offeredName).toList())));
        return true;
    }

    /**
     * What a Forge offers (see {@link #offer()}).
     *
     * @param loadedCheckpoint the checkpoint loaded now (one of {@code checkpoints}), or null when unknown
     * @param loadSeconds      measured seconds to load each checkpoint (names as in {@code checkpoints})
     * @param secondsPerStep   measured seconds per sampling step of a 512×512 image, or null before it is known
     */
    public record Offer(
            String identity,
            List<String> checkpoints,
            List<String> samplers,
            List<String> schedulers,
            String loadedCheckpoint,
            Map<String, Double> loadSeconds,
            Double secondsPerStep) {

        public Offer {
            loadSeconds = Map.copyOf(loadSeconds);
        }
    }

    /** Forge's URL without credentials. */
    public String safeUrl() {
        return props.safeUrl();
    }

    /**
     * The Forge this worker drives, as a stable name (the normalized URL, see {@link ForgeIdentity}): two workers
     * reporting the same identity share one Forge.
     */
    public ForgeIdentity forgeIdentity() {
        return identity;
    }

    /**
     * POST /internal/progress for a request's task, or null when Forge has none (API-only mode: 404) or answers it
     * with anything else; remembered for the request. An outage or a timeout is thrown like any failed call.
     */
    private TaskProgress taskProgress(CallWatch watch, boolean withPreview) {
        if (watch.taskApi() == CallWatch.TaskApi.MISSING) {
            return null;
        }
        long start = System.nanoTime();
        String outcome = "success";
        try {
            TaskProgress task = api.taskProgress(watch.taskId(), watch.lastPreviewId(), withPreview);
            watch.taskApi(CallWatch.TaskApi.AVAILABLE);
            return task;
        } catch (ForgeException e) {
            outcome = e.failure().name();
            if (e.failure().isOutage() || e.failure() == ForgeFailure.TIMEOUT) {
                throw e;
            }
            watch.taskApi(CallWatch.TaskApi.MISSING);
            if (!taskApiMissingLogged) {
                taskApiMissingLogged = true;
                log.info(
                        "Forge at {} has no usable /internal/progress ({}): API-only mode (--nowebui); progress is "
                                + "attributed from its global state",
                        identity,
                        e.getMessage());
            }
            return null;
        } finally {
            metrics.forgeCall(ForgeApi.TASK_PROGRESS, outcome, System.nanoTime() - start);
        }
    }

    private ProgressSnapshot timedProgress(boolean withImage) {
        long start = System.nanoTime();
        String outcome = "success";
        try {
            ProgressSnapshot state = api.progress(withImage);
            if (!state.busy()) {
                lastIdleNanos = start;
                idleSeen = true;
            }
            return state;
        } catch (ForgeException e) {
            outcome = e.failure().name();
            if (abandoned != null && e.getCause() instanceof ConnectException) {
                // Forge's process is down or restarting: its jobs died with it, so a job found running later is
                // someone else's (another worker's retry), never our abandoned request
                abandoned = null;
                log.info("Forge refuses connections; the abandoned txt2img is gone with it");
            }
            if (e.getCause() instanceof ConnectException) {
                models.unknown("Forge refuses connections (a restart unloads every model)");
            }
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
