package io.forgequeue.worker.job;

import dev.failsafe.CircuitBreakerOpenException;
import dev.failsafe.TimeoutExceededException;
import io.forgequeue.model.ErrorCode;
import io.forgequeue.model.FieldViolation;
import io.forgequeue.model.JobCancelled;
import io.forgequeue.model.JobEvent;
import io.forgequeue.model.JobFailed;
import io.forgequeue.model.JobMessage;
import io.forgequeue.model.JobRequeued;
import io.forgequeue.model.JobStarted;
import io.forgequeue.model.JobSucceeded;
import io.forgequeue.worker.cancel.CancelledJobs;
import io.forgequeue.worker.forge.CallStoppedException;
import io.forgequeue.worker.forge.ForgeBusyException;
import io.forgequeue.worker.forge.ForgeClient;
import io.forgequeue.worker.forge.ForgeException;
import io.forgequeue.worker.forge.ModelMismatchException;
import io.forgequeue.worker.forge.Txt2ImgResult;
import io.forgequeue.worker.system.WorkerMetrics;
import io.forgequeue.worker.system.WorkerProperties;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongFunction;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Component;

/**
 * Runs one delivery of a job to its end and says what to do with the message. Runs on the listener thread, one job
 * at a time; the cancel listener and the progress watchdog reach the running attempt through {@link #current}.
 *
 * <p>Order of checks: taken back from this worker before it arrived (skipped, no event) → cancelled before it
 * arrived (CANCELLED, no Forge call) → too many attempts (FAILED TOO_MANY_ATTEMPTS) → impossible spec (FAILED
 * INVALID_SPEC, dead-lettered) → shutting down (REQUEUED) → run. While it runs, an owner's cancel ends it CANCELLED
 * and a stop of this attempt (the scheduler took it back) ends it REQUEUED; both interrupt Forge.
 * After the run, images that add up to more than {@code worker.outcome.max-image-bytes} fail the job
 * (IMAGES_TOO_LARGE) instead of being sent.
 */
@Component
class JobRunner {

    private static final Logger log = LoggerFactory.getLogger(JobRunner.class);
    /** The reason of the REQUEUED event of an attempt the scheduler took back while it ran. */
    static final String TAKEN_BACK = "taken back by the scheduler";

    private final ForgeClient forge;
    private final JobEventPublisher publisher;
    private final CancelledJobs cancelledJobs;
    private final ShutdownGrace shutdown;
    private final WorkerProperties worker;
    private final WorkerMetrics metrics;
    private final ScheduledExecutorService scheduler;
    private final Clock clock;
    private final AtomicReference<JobAttempt> current = new AtomicReference<>();

    JobRunner(
            ForgeClient forge,
            JobEventPublisher publisher,
            CancelledJobs cancelledJobs,
            ShutdownGrace shutdown,
            WorkerProperties worker,
            WorkerMetrics metrics,
            ScheduledExecutorService workerScheduler,
            Clock clock) {
        this.forge = forge;
        this.publisher = publisher;
        this.cancelledJobs = cancelledJobs;
        this.shutdown = shutdown;
        this.worker = worker;
        this.metrics = metrics;
        this.scheduler = workerScheduler;
        this.clock = clock;
        cancelledJobs.onCancel(this::cancelIfRunning);
    }

    /**
     * Runs the job and publishes its outcome.
     *
     * @param deliveredNanos {@link System#nanoTime()} when the listener took the delivery (for the turnaround times)
     */
    Disposition run(JobMessage job, long deliveredNanos) {
        UUID jobId = job.jobId();
        int attempt = job.attempt();
        EventStream events = new EventStream(publisher, worker.confirmTimeout(), worker.outcome());
        if (!cancelledJobs.isCancelled(jobId) && cancelledJobs.isStopped(jobId, attempt)) {
            log.info(
                    "Job(id={}) attempt {} was taken back from this worker before it started; skipped", jobId, attempt);
            metrics.jobFinished("skipped", null);
            return Disposition.ACK;
        }
        if (cancelledJobs.isCancelled(jobId)) {
            log.info("Job(id={}) was cancelled before it started; skipped without calling Forge", jobId);
            finish(
                    events,
                    seq -> new JobCancelled(
                            jobId, attempt, worker.id(), seq, clock.instant(), "cancelled before it started"),
                    "cancelled",
                    null);
            return Disposition.ACK;
        }
        if (attempt > worker.maxAttempts()) {
            String message = "The job was started " + (attempt - 1) + " times without finishing (the limit is "
                    + worker.maxAttempts() + "), so it was stopped. Please try again later.";
            log.error("Job(id={}) attempt {} exceeds the limit of {}; failed", jobId, attempt, worker.maxAttempts());
            finish(
                    events,
                    seq -> new JobFailed(
                            jobId,
                            attempt,
                            worker.id(),
                            seq,
                            clock.instant(),
                            ErrorCode.TOO_MANY_ATTEMPTS,
                            message,
                            ErrorCode.TOO_MANY_ATTEMPTS.retryable(),
                            Map.of("maxAttempts", worker.maxAttempts())),
                    "failed",
                    ErrorCode.TOO_MANY_ATTEMPTS);
            return Disposition.ACK;
        }
        List<FieldViolation> violations = job.spec().violations();
        if (!violations.isEmpty()) {
            String message = "The job's settings are not valid: "
                    + violations.stream()
                            .map(v -> v.field() + " " + v.message())
                            .collect(Collectors.joining("; ")) + ".";
            List<Map<String, String>> details = violations.stream()
                    .map(v -> Map.of("field", v.field(), "message", v.message()))
                    .toList();
            log.warn(
                    "Job(id={}) has an impossible spec ({}); failed and dead-lettered",
                    jobId,
                    violations.stream().map(FieldViolation::field).toList());
            finish(
                    events,
                    seq -> new JobFailed(
                            jobId,
                            attempt,
                            worker.id(),
                            seq,
                            clock.instant(),
                            ErrorCode.INVALID_SPEC,
                            message,
                            false,
                            Map.of("violations", details)),
                    "failed",
                    ErrorCode.INVALID_SPEC);
            return Disposition.DEAD_LETTER;
        }
        if (shutdown.isStopping()) {
            finish(
                    events,
                    seq -> new JobRequeued(jobId, attempt, worker.id(), seq, clock.instant(), "worker shutting down"),
                    "requeued",
                    null);
            return Disposition.REQUEUE;
        }
        return runOnForge(job, attempt, events, deliveredNanos);
    }

    private Disposition runOnForge(JobMessage job, int attempt, EventStream events, long deliveredNanos) {
        UUID jobId = job.jobId();
        JobAttempt running = new JobAttempt(job, attempt, events);
        current.set(running);
        try {
            Map<String, Object> startMetadata = new LinkedHashMap<>(); // kept for operators: no Forge URL
            startMetadata.put("pool", job.pool());
            startMetadata.put("workerVersion", workerVersion());
            events.send(seq -> new JobStarted(jobId, attempt, worker.id(), seq, clock.instant(), startMetadata));
            // a cancel or stop that arrived between the first checks and current.set
            if (cancelledJobs.isCancelled(jobId)) {
                running.requestCancel();
            } else if (cancelledJobs.isStopped(jobId, attempt)) {
                running.requestTakeBack();
            }
            log.info(
                    "Job(id={}) attempt {} started ({}x{}, {} steps, {} image(s))",
                    jobId,
                    attempt,
                    job.spec().width(),
                    job.spec().height(),
                    job.spec().steps(),
                    job.spec().batchSize());
            Result result;
            try (ProgressReporter reporter =
                    new ProgressReporter(running, forge, publisher, shutdown, worker, clock, scheduler)) {
                result = generate(running);
            }
            if (result.forge() != null) {
                if (result.forge().firstTry()) {
                    metrics.turnaround(WorkerMetrics.PREPARE, result.forge().sentNanos() - deliveredNanos);
                }
                metrics.turnaround(
                        WorkerMetrics.RESULT, System.nanoTime() - result.forge().answeredNanos());
            }
            finish(events, result.event(), result.outcome(), result.code());
            return result.disposition();
        } finally {
            current.set(null);
        }
    }

    /**
     * What a finished attempt reports and what happens to its message; {@code forge} is Forge's answer when the
     * job succeeded (for the turnaround times), else null.
     */
    private record Result(
            LongFunction<JobEvent> event,
            String outcome,
            ErrorCode code,
            Disposition disposition,
            Txt2ImgResult forge) {

        Result(LongFunction<JobEvent> event, String outcome, ErrorCode code, Disposition disposition) {
            this(event, outcome, code, disposition, null);
        }
    }

    private Result generate(JobAttempt running) {
        UUID jobId = running.jobId();
        int attempt = running.attempt();
        try {
            Txt2ImgResult result = forge.generate(jobId, running.job().spec(), running::shouldStop);
            if (running.cancelRequested()) {
                log.info(
                        "Job(id={}) cancelled while running; {} partial image(s) discarded",
                        jobId,
                        result.images().size());
                return cancelled(running, "interrupted while running");
            }
            if (running.takeBackRequested()) {
                log.info(
                        "Job(id={}) attempt {} taken back while running; {} image(s) discarded",
                        jobId,
                        attempt,
                        result.images().size());
                return takenBack(running);
            }
            if (running.giveBackRequested()
                    && (running.interruptSent() || result.images().isEmpty())) {
                return requeued(running, "worker shutting down", Disposition.REQUEUE);
            }
            if (result.interruptedElsewhere()) {
                // someone else stopped it on a shared Forge; its images are unfinished, it runs again
                log.warn(
                        "Job(id={}) was interrupted on Forge by another client; {} unfinished image(s) discarded, "
                                + "the job is given back to run again",
                        jobId,
                        result.images().size());
                return requeued(
                        running, "interrupted on the image server by someone else; it runs again", Disposition.REQUEUE);
            }
            if (result.images().isEmpty()) {
                log.warn("Job(id={}) Forge returned no image", jobId);
                return failed(running, ErrorCode.NO_IMAGES, ErrorCode.NO_IMAGES.defaultMessage(), result.metadata());
            }
            long imageBytes =
                    result.images().stream().mapToLong(i -> i.data().length).sum();
            long maxImageBytes = worker.outcome().maxImageBytes().toBytes();
            if (imageBytes > maxImageBytes) {
                return imagesTooLarge(running, result.images().size(), imageBytes, maxImageBytes);
            }
            log.info(
                    "Job(id={}) succeeded: {} image(s) in {} ms",
                    jobId,
                    result.images().size(),
                    result.forgeMillis());
            Map<String, Object> metadata = new LinkedHashMap<>(result.metadata());
            if (running.job().spec().checkpoint() != null) {
                metadata.put("checkpointRequested", running.job().spec().checkpoint());
            }
            return new Result(
                    seq -> new JobSucceeded(
                            jobId, attempt, worker.id(), seq, clock.instant(), result.images(), metadata),
                    "succeeded",
                    null,
                    Disposition.ACK,
                    result);
        } catch (CallStoppedException e) {
            return running.cancelRequested()
                    ? cancelled(running, "cancelled before Forge was called")
                    : running.takeBackRequested()
                            ? takenBack(running)
                            : requeued(running, "worker shutting down", Disposition.REQUEUE);
        } catch (ForgeBusyException e) {
            return stoppedOr(running, () -> {
                log.warn(
                        "Job(id={}) given back to the queue: Forge was busy with another client's job for {} ms",
                        jobId,
                        e.waited().toMillis());
                return requeued(
                        running,
                        "the image server was busy with someone else's work for " + describe(e.waited()),
                        Disposition.REQUEUE);
            });
        } catch (ModelMismatchException e) {
            return stoppedOr(running, () -> modelMismatch(running, e));
        } catch (CircuitBreakerOpenException e) {
            return stoppedOr(running, () -> outage(running, "the image server is unavailable"));
        } catch (TimeoutExceededException e) {
            return stoppedOr(running, () -> timedOut(running, null));
        } catch (ForgeException e) {
            return stoppedOr(running, () -> switch (e.failure()) {
                case UNAVAILABLE -> outage(running, "the image server is unavailable");
                case TIMEOUT, CALL_TIMEOUT -> timedOut(running, e);
                default -> forgeFailed(running, e);
            });
        } catch (RuntimeException e) {
            log.error("Job(id={}) failed inside the worker", jobId, e);
            return failed(
                    running,
                    ErrorCode.WORKER_ERROR,
                    ErrorCode.WORKER_ERROR.defaultMessage(),
                    Map.of("exception", e.getClass().getName()));
        }
    }

    /** A cancel, take-back or give-back request wins over the failure it caused (an interrupted call). */
    private Result stoppedOr(JobAttempt running, Supplier<Result> otherwise) {
        if (running.cancelRequested()) {
            return cancelled(running, "interrupted while running");
        }
        if (running.takeBackRequested()) {
            return takenBack(running);
        }
        if (running.giveBackRequested()) {
            return requeued(running, "worker shutting down", Disposition.REQUEUE);
        }
        return otherwise.get();
    }

    private Result outage(JobAttempt running, String reason) {
        log.warn("Job(id={}) given back to the queue: {} (breaker {})", running.jobId(), reason, forge.breakerState());
        return requeued(running, reason, Disposition.REQUEUE_AND_PAUSE);
    }

    private Result timedOut(JobAttempt running, ForgeException e) {
        String message =
                "The image server did not answer within " + describe(forge.callTimeout()) + ". Please try again.";
        log.warn(
                "Job(id={}) failed: Forge did not answer within {}{}",
                running.jobId(),
                describe(forge.callTimeout()),
                e == null ? "" : " (" + e.getMessage() + ")");
        return failed(
                running,
                ErrorCode.FORGE_TIMEOUT,
                message,
                Map.of("timeoutMillis", forge.callTimeout().toMillis()));
    }

    /** Forge generated with another checkpoint, twice: no image of the wrong model is delivered. */
    private Result modelMismatch(JobAttempt running, ModelMismatchException e) {
        log.warn("Job(id={}) failed: {}", running.jobId(), e.getMessage());
        Map<String, Object> metadata = new LinkedHashMap<>();
        metadata.put("checkpointRequested", e.requested());
        metadata.put("checkpointUsed", e.used());
        if (e.forgeMessage() != null) {
            metadata.put("forgeMessage", e.forgeMessage());
        }
        return failed(running, ErrorCode.MODEL_MISMATCH, e.userMessage(), metadata);
    }

    /**
     * The images do not fit in one outcome event (the broker would refuse it, and the job would be given
     * back and run again and again). Fails the job, which is acked: nothing runs it again.
     */
    private Result imagesTooLarge(JobAttempt running, int images, long imageBytes, long maxImageBytes) {
        log.warn(
                "Job(id={}) failed: its {} image(s) take {} bytes, more than the {} an outcome event may carry "
                        + "(worker.outcome.max-image-bytes)",
                running.jobId(),
                images,
                imageBytes,
                maxImageBytes);
        String message = "The generated " + (images == 1 ? "image takes " : "images take ") + size(imageBytes)
                + ", more than the " + size(maxImageBytes) + " a job may return. Try fewer images per job or a "
                + "smaller size.";
        Map<String, Object> metadata = new LinkedHashMap<>();
        metadata.put("imagesReturned", images);
        metadata.put("imageBytes", imageBytes);
        metadata.put("maxImageBytes", maxImageBytes);
        return failed(running, ErrorCode.IMAGES_TOO_LARGE, message, metadata);
    }

    /** A size for a person: MB with one decimal, or whole KB below 1 MB (1 KB = 1024 bytes, as the setting's unit). */
    static String size(long bytes) {
        if (bytes >= 1024 * 1024) {
            return String.format(Locale.ROOT, "%.1f MB", bytes / (1024.0 * 1024.0));
        }
        return Math.max(1, Math.round(bytes / 1024.0)) + " KB";
    }

    private Result forgeFailed(JobAttempt running, ForgeException e) {
        ErrorCode code = e.failure().code();
        String message = code.defaultMessage();
        if (code == ErrorCode.FORGE_REJECTED && e.forgeMessage() != null) {
            message = code.defaultMessage().replaceAll("\\.$", "") + ": " + e.forgeMessage();
        }
        Map<String, Object> metadata = new LinkedHashMap<>();
        if (e.httpStatus() > 0) {
            metadata.put("httpStatus", e.httpStatus());
        }
        if (e.forgeError() != null) {
            metadata.put("forgeError", e.forgeError());
        }
        if (e.forgeMessage() != null) {
            metadata.put("forgeMessage", e.forgeMessage());
        }
        if (code == ErrorCode.FORGE_AUTH || code == ErrorCode.FORGE_API_MISSING) {
            log.error(
                    "Job(id={}) failed: {} (the worker's configuration needs fixing)", running.jobId(), e.getMessage());
        } else {
            log.warn("Job(id={}) failed: {}", running.jobId(), e.getMessage());
        }
        return failed(running, code, message, metadata);
    }

    private Result failed(JobAttempt running, ErrorCode code, String message, Map<String, Object> metadata) {
        UUID jobId = running.jobId();
        int attempt = running.attempt();
        return new Result(
                seq -> new JobFailed(
                        jobId, attempt, worker.id(), seq, clock.instant(), code, message, code.retryable(), metadata),
                "failed",
                code,
                Disposition.ACK);
    }

    private Result cancelled(JobAttempt running, String reason) {
        UUID jobId = running.jobId();
        int attempt = running.attempt();
        return new Result(
                seq -> new JobCancelled(jobId, attempt, worker.id(), seq, clock.instant(), reason),
                "cancelled",
                null,
                Disposition.ACK);
    }

    /** The scheduler took the attempt back: whatever it produced is not this worker's to report. */
    private Result takenBack(JobAttempt running) {
        return requeued(running, TAKEN_BACK, Disposition.REQUEUE);
    }

    private Result requeued(JobAttempt running, String reason, Disposition disposition) {
        UUID jobId = running.jobId();
        int attempt = running.attempt();
        return new Result(
                seq -> new JobRequeued(jobId, attempt, worker.id(), seq, clock.instant(), reason),
                "requeued",
                null,
                disposition);
    }

    /** Publishes the outcome, waits for its confirm (throws if there is none), counts it. */
    private void finish(EventStream events, LongFunction<JobEvent> outcome, String name, ErrorCode code) {
        long sent = System.nanoTime();
        events.finish(outcome);
        metrics.turnaround(WorkerMetrics.CONFIRM, System.nanoTime() - sent);
        metrics.jobFinished(name, code);
    }

    /**
     * A cancel (attempt null: it ends CANCELLED) or a stop of one attempt (it ends REQUEUED) arrived: if it is for the
     * attempt running here, stop it.
     */
    private void cancelIfRunning(UUID jobId, Integer attempt) {
        JobAttempt running = current.get();
        if (running == null || !running.jobId().equals(jobId) || (attempt != null && attempt != running.attempt())) {
            return;
        }
        if (attempt == null) {
            running.requestCancel();
        } else {
            running.requestTakeBack();
        }
        running.interruptOnce(forge::interruptOwnCall);
    }

    static String describe(Duration d) {
        long millis = d.toMillis();
        if (millis % 1000 == 0) {
            return millis / 1000 + " s";
        }
        return String.format(Locale.ROOT, "%.1f s", millis / 1000.0);
    }

    private static String workerVersion() {
        String v = JobRunner.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }
}
