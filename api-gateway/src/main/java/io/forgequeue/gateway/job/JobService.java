package io.forgequeue.gateway.job;

import io.forgequeue.gateway.apikey.Caller;
import io.forgequeue.gateway.quota.Priority;
import io.forgequeue.gateway.system.ApiException;
import io.forgequeue.gateway.system.ApiProblem;
import io.forgequeue.gateway.system.FieldError;
import io.forgequeue.gateway.system.GatewayMetrics;
import io.forgequeue.gateway.system.InstanceProperties;
import io.forgequeue.gateway.system.RetentionMetrics;
import io.forgequeue.gateway.system.WireJson;
import io.forgequeue.model.CancelJobCommand;
import io.forgequeue.model.JobSpec;
import io.forgequeue.model.JobStatus;
import io.forgequeue.model.Topology;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.http.HttpHeaders;
import org.springframework.stereotype.Service;

/**
 * Submitting and cancelling jobs. Validation happens before anything is stored; the job row, its history and its
 * fair-share tag are one statement; the scheduler learns of the job from PostgreSQL's notification and hands it
 * to a worker when its turn comes. A cancel's outbox entry is published right after commit
 * ({@link DispatchRequested}).
 */
@Service
class JobService {

    private static final Logger log = LoggerFactory.getLogger(JobService.class);

    private final JobRepository jobs;
    private final JobViews views;
    private final JobProperties properties;
    private final String instanceId;
    private final WireJson json;
    private final FlushedCommits commits;
    private final ApplicationEventPublisher events;
    private final GatewayMetrics metrics;
    private final JobCosts costs;
    private final JobErasure erasure;
    private final RetentionMetrics retentionMetrics;

    JobService(
            JobRepository jobs,
            JobViews views,
            JobProperties properties,
            InstanceProperties instance,
            WireJson json,
            FlushedCommits commits,
            ApplicationEventPublisher events,
            GatewayMetrics metrics,
            JobCosts costs,
            JobErasure erasure,
            RetentionMetrics retentionMetrics) {
        this.jobs = jobs;
        this.views = views;
        this.properties = properties;
        this.instanceId = instance.instanceId();
        this.json = json;
        this.commits = commits;
        this.events = events;
        this.metrics = metrics;
        this.costs = costs;
        this.erasure = erasure;
        this.retentionMetrics = retentionMetrics;
        metrics.registerPools(properties.pools());
    }

    /** The outcome of a submission: the job, and whether it was an earlier submission with the same key. */
    record Submission(JobView job, boolean replayed) {}

    Submission submit(Caller caller, JobRequest request, String idempotencyKey) {
        String pool = request.poolOrDefault();
        JobSpec spec = request.toSpec();
        List<FieldError> errors = validate(pool, spec);
        if (!errors.isEmpty()) {
            metrics.submissionRefused("validation");
            throw new ApiException(
                    ApiProblem.VALIDATION_FAILED,
                    "The job has " + errors.size() + (errors.size() == 1 ? " invalid field." : " invalid fields."),
                    errors,
                    Map.of(),
                    HttpHeaders.EMPTY);
        }
        Priority priority = request.priorityOrDefault();
        if (!priority.allowedBy(caller.quota().maxPriority())) {
            metrics.submissionRefused("priority");
            throw new ApiException(
                    ApiProblem.PRIORITY_NOT_ALLOWED,
                    "This API key may submit jobs with priority "
                            + allowedPriorities(caller.quota().maxPriority()) + ", not " + priority.wireName() + ".",
                    List.of(new FieldError(
                            "priority",
                            "is above what this key may use (at most "
                                    + caller.quota().maxPriority().wireName() + ")")),
                    Map.of("maxPriority", caller.quota().maxPriority().wireName()),
                    HttpHeaders.EMPTY);
        }
        if (idempotencyKey != null && !idempotencyKey.matches("[\\x21-\\x7E]{1,255}")) {
            throw new ApiException(
                    ApiProblem.INVALID_PARAMETER,
                    "The Idempotency-Key header is not valid.",
                    List.of(new FieldError("Idempotency-Key", "must be 1-255 visible ASCII characters")),
                    Map.of(),
                    HttpHeaders.EMPTY);
        }
        UUID owner = caller.keyId();
        String specJson = json.toText(spec);
        JobRepository.NewJob job = new JobRepository.NewJob(
                UuidV7.next(),
                owner,
                pool,
                specJson,
                priority.level(),
                costs.estimate(pool, spec),
                caller.quota().weight(),
                spec.checkpoint(),
                spec.sampler());
        int maxQueued = caller.quota().maxQueued();
        if (idempotencyKey == null) {
            // a synchronous commit: an error answer must mean nothing was stored (see FlushedCommits)
            return accepted(commits.synchronously(status -> jobs.insert(job, maxQueued)), maxQueued);
        }
        byte[] hash = sha256(pool + "\n" + specJson + (priority == Priority.NORMAL ? "" : "\npriority=" + priority));
        Object outcome = commits.synchronously(status -> {
            if (!jobs.claimIdempotencyKey(owner, idempotencyKey, hash, job.id(), properties.idempotencyRetention())) {
                return jobs.idempotencyKey(owner, idempotencyKey).orElseThrow();
            }
            JobRepository.Inserted inserted = jobs.insert(job, maxQueued);
            if (!inserted.accepted()) {
                status.setRollbackOnly();
            }
            return inserted;
        });
        if (outcome instanceof JobRepository.Inserted inserted) {
            return accepted(inserted, maxQueued);
        }
        JobRepository.IdempotencyRecord earlier = (JobRepository.IdempotencyRecord) outcome;
        if (!Arrays.equals(earlier.requestHash(), hash)) {
            metrics.submissionRefused("idempotency");
            throw new ApiException(
                    ApiProblem.IDEMPOTENCY_KEY_REUSED,
                    "This Idempotency-Key was used for a " + "different job. Use a new key for a new job.",
                    List.of(),
                    Map.of("jobId", earlier.jobId()),
                    HttpHeaders.EMPTY);
        }
        JobRow found = jobs.find(owner, earlier.jobId()).orElseThrow();
        return new Submission(views.toView(found), true);
    }

    private static String allowedPriorities(Priority max) {
        return switch (max) {
            case HIGH -> "high, normal or low";
            case NORMAL -> "normal or low";
            case LOW -> "low";
        };
    }

    private Submission accepted(JobRepository.Inserted inserted, int maxQueued) {
        if (!inserted.accepted()) {
            metrics.submissionRefused("cap");
            HttpHeaders headers = new HttpHeaders();
            headers.set(
                    HttpHeaders.RETRY_AFTER,
                    String.valueOf(Math.max(1, properties.retryAfter().toSeconds())));
            throw new ApiException(
                    ApiProblem.TOO_MANY_JOBS_IN_FLIGHT,
                    "This API key already has "
                            + inserted.inFlight() + " jobs waiting in the queue; the limit is " + maxQueued
                            + ". Submit more when some have started.",
                    List.of(),
                    Map.of("limit", maxQueued, "inFlight", inserted.inFlight()),
                    headers);
        }
        JobRow row = inserted.row();
        metrics.jobSubmitted(row.pool());
        log.info(
                "Job(id={}) submitted: pool {}, ticket {}, priority {}",
                row.id(),
                row.pool(),
                row.ticket(),
                Priority.ofLevel(row.priority()).wireName());
        events.publishEvent(new JobChanged(row, null, null));
        return new Submission(views.toView(row), false);
    }

    /** Cancels a job: the answer and the job as it is afterwards. */
    record Cancellation(JobView job, JobStatus previousStatus) {
        /** Whether the job is still running and the worker has yet to confirm the cancel. */
        boolean pending() {
            return job.status() == JobStatus.RUNNING;
        }
    }

    Cancellation cancel(Caller caller, UUID id) {
        JobRepository.Cancelled result = jobs.cancel(caller.keyId(), id, instanceId, properties.outboxLease())
                .orElseThrow(() -> notFound(id));
        if (!result.changed()) {
            JobRow current = jobs.find(caller.keyId(), id).orElseThrow(() -> notFound(id));
            return new Cancellation(views.toView(current), result.oldStatus());
        }
        JobRow row = result.row();
        if (result.outboxId() > 0) {
            events.publishEvent(new DispatchRequested(
                    result.outboxId(),
                    new CancelJobCommand(
                            row.id(), result.outboxCreatedAt() == null ? Instant.now() : result.outboxCreatedAt())));
        }
        if (row.status() == JobStatus.CANCELLED) {
            metrics.jobFinished(JobStatus.CANCELLED, row.pool(), null);
            log.info("Job(id={}) cancelled while queued", row.id());
        } else {
            log.info("Job(id={}) cancel requested while {}", row.id(), row.status());
        }
        events.publishEvent(new JobChanged(row, result.oldStatus(), null));
        return new Cancellation(views.toView(row), result.oldStatus());
    }

    /**
     * Hides the caller's finished job from its history, or shows it again ({@code hide} false). Idempotent: a job
     * already as asked is returned unchanged. A job still QUEUED or RUNNING cannot be hidden (409 job-not-finished).
     */
    JobView hide(Caller caller, UUID id, boolean hide) {
        java.util.Optional<JobRow> changed = jobs.hide(caller.keyId(), id, hide);
        if (changed.isPresent()) {
            JobRow row = changed.get();
            log.info("Job(id={}) {} by its owner", row.id(), hide ? "hidden" : "shown again");
            events.publishEvent(new JobChanged(row, row.status(), null));
            return views.toView(row);
        }
        JobRow current = jobs.find(caller.keyId(), id).orElseThrow(() -> notFound(id));
        if (!current.status().isTerminal()) {
            throw new ApiException(
                    ApiProblem.JOB_NOT_FINISHED,
                    "Job " + id + " is " + current.status()
                            + "; only a finished job can be removed from the history (cancel it first).",
                    List.of(),
                    Map.of("jobId", id, "status", current.status().name()),
                    HttpHeaders.EMPTY);
        }
        return views.toView(current);
    }

    /**
     * Erases a finished job's prompts and images ({@link JobErasure}); the job stays as a tombstone. Idempotent: a job
     * erased before is returned as it is. A job that is not finished yet is refused (409 job-not-finished): its
     * outcome could still bring images, so its owner cancels it first and erases it once it is CANCELLED.
     */
    JobView erase(Caller caller, UUID id) {
        JobErasure.Owned result = erasure.eraseOwned(caller.keyId(), id).orElseThrow(() -> notFound(id));
        if (result.row() == null) {
            throw new ApiException(
                    ApiProblem.JOB_NOT_FINISHED,
                    "Job " + id + " is " + result.status()
                            + "; only a finished job's data can be erased. Cancel it first (DELETE "
                            + JobViews.jobUrl(id)
                            + ") and erase its data once it is CANCELLED.",
                    List.of(),
                    Map.of("jobId", id, "status", result.status()),
                    HttpHeaders.EMPTY);
        }
        JobRow row = result.row();
        if (result.erased() != null) {
            JobErasure.Erased erased = result.erased();
            retentionMetrics.erased(RetentionMetrics.OWNER, erased.jobs(), erased.images(), erased.bytes());
            log.info("Job(id={}) data erased by its owner: {} image(s), {} bytes", id, erased.images(), erased.bytes());
            events.publishEvent(new JobChanged(row, row.status(), null));
        }
        return views.toView(row);
    }

    JobView find(Caller caller, UUID id) {
        return views.toView(jobs.find(caller.keyId(), id).orElseThrow(() -> notFound(id)));
    }

    static ApiException notFound(UUID id) {
        return new ApiException(
                ApiProblem.JOB_NOT_FOUND,
                "No job " + id + " among this key's jobs.",
                List.of(),
                Map.of("jobId", id),
                HttpHeaders.EMPTY);
    }

    List<FieldError> validate(String pool, JobSpec spec) {
        List<FieldError> errors = new ArrayList<>();
        if (!Topology.isValidPool(pool)) {
            errors.add(new FieldError(
                    "pool", "must be 1-64 characters of a-z, 0-9 and '-', starting with a letter or digit"));
        } else if (!properties.pools().isEmpty() && !properties.pools().contains(pool)) {
            errors.add(new FieldError(
                    "pool", "is not a known pool (known: " + String.join(", ", properties.pools()) + ")"));
        }
        spec.violations().forEach(v -> errors.add(new FieldError(v.field(), v.message())));
        if (spec.violations().isEmpty() && properties.maxCost() > 0) {
            long cost = (long) spec.width() * spec.height() * spec.steps() * spec.batchSize();
            if (cost > properties.maxCost()) {
                errors.add(new FieldError(
                        "cost",
                        String.format(
                                java.util.Locale.ROOT,
                                "width x height x steps x "
                                        + "batchSize is %,d; one job may ask for at most %,d: ask for fewer steps, a smaller size or "
                                        + "fewer images",
                                cost,
                                properties.maxCost())));
            }
        }
        if (spec.sampler() != null
                && !properties.samplers().isEmpty()
                && !properties.samplers().contains(spec.sampler())
                && errors.stream().noneMatch(e -> e.field().equals("sampler"))) {
            errors.add(new FieldError(
                    "sampler", "is not a known sampler (known: " + String.join(", ", properties.samplers()) + ")"));
        }
        if (spec.checkpoint() != null
                && !properties.checkpoints().isEmpty()
                && !properties.checkpoints().contains(spec.checkpoint())
                && errors.stream().noneMatch(e -> e.field().equals("checkpoint"))) {
            errors.add(new FieldError(
                    "checkpoint",
                    "is not a known checkpoint (known: " + String.join(", ", properties.checkpoints()) + ")"));
        }
        return errors;
    }

    private static byte[] sha256(String text) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
