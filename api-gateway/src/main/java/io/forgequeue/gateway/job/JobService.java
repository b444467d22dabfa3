package io.forgequeue.gateway.job;

import io.forgequeue.gateway.apikey.Caller;
import io.forgequeue.gateway.system.ApiException;
import io.forgequeue.gateway.system.ApiProblem;
import io.forgequeue.gateway.system.FieldError;
import io.forgequeue.gateway.system.GatewayMetrics;
import io.forgequeue.gateway.system.InstanceProperties;
import io.forgequeue.gateway.system.WireJson;
import io.forgequeue.model.CancelJobCommand;
import io.forgequeue.model.JobMessage;
import io.forgequeue.model.JobSpec;
import io.forgequeue.model.JobStatus;
import io.forgequeue.model.Topology;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.http.HttpHeaders;
import org.springframework.stereotype.Service;
import org.springframework.transaction.support.TransactionTemplate;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Submitting and cancelling jobs. Validation happens before anything is stored; the job row, its history and its
 * outbox entry are one statement; the outbox entry is published right after commit ({@link DispatchRequested}).
 */
@Service
class JobService {

    private static final Logger log = LoggerFactory.getLogger(JobService.class);

    private final JobRepository jobs;
    private final JobViews views;
    private final JobProperties properties;
    private final String instanceId;
    private final WireJson json;
    private final TransactionTemplate tx;
    private final ApplicationEventPublisher events;
    private final GatewayMetrics metrics;

    JobService(JobRepository jobs, JobViews views, JobProperties properties, InstanceProperties instance,
               WireJson json, TransactionTemplate tx, ApplicationEventPublisher events, GatewayMetrics metrics) {
        this.jobs = jobs;
        this.views = views;
        this.properties = properties;
        this.instanceId = instance.instanceId();
        this.json = json;
        this.tx = tx;
        this.events = events;
        this.metrics = metrics;
        metrics.registerPools(properties.pools());
    }

    /** The outcome of a submission: the job, and whether it was an earlier submission with the same key. */
    record Submission(JobView job, boolean replayed) {
    }

    Submission submit(Caller caller, JobRequest request, String idempotencyKey) {
        String pool = request.poolOrDefault();
        JobSpec spec = request.toSpec();
        List<FieldError> errors = validate(pool, spec);
        if (!errors.isEmpty()) {
            metrics.submissionRefused("validation");
            throw new ApiException(ApiProblem.VALIDATION_FAILED, "The job has " + errors.size()
                    + (errors.size() == 1 ? " invalid field." : " invalid fields."), errors, Map.of(), HttpHeaders.EMPTY);
        }
        if (idempotencyKey != null && !idempotencyKey.matches("[\\x21-\\x7E]{1,255}")) {
            throw new ApiException(ApiProblem.INVALID_PARAMETER, "The Idempotency-Key header is not valid.",
                    List.of(new FieldError("Idempotency-Key", "must be 1-255 visible ASCII characters")), Map.of(),
                    HttpHeaders.EMPTY);
        }
        UUID id = UuidV7.next();
        String specJson = json.toText(spec);
        UUID owner = caller.keyId();
        if (idempotencyKey == null) {
            return accepted(jobs.insert(id, owner, pool, specJson, properties.maxInFlight(), instanceId,
                    properties.outboxLease()));
        }
        byte[] hash = sha256(pool + "\n" + specJson);
        Object outcome = tx.execute(status -> {
            if (!jobs.claimIdempotencyKey(owner, idempotencyKey, hash, id, properties.idempotencyRetention())) {
                return jobs.idempotencyKey(owner, idempotencyKey).orElseThrow();
            }
            JobRepository.Inserted inserted = jobs.insert(id, owner, pool, specJson, properties.maxInFlight(),
                    instanceId, properties.outboxLease());
            if (!inserted.accepted()) {
                status.setRollbackOnly();
            }
            return inserted;
        });
        if (outcome instanceof JobRepository.Inserted inserted) {
            return accepted(inserted);
        }
        JobRepository.IdempotencyRecord earlier = (JobRepository.IdempotencyRecord) outcome;
        if (!Arrays.equals(earlier.requestHash(), hash)) {
            metrics.submissionRefused("idempotency");
            throw new ApiException(ApiProblem.IDEMPOTENCY_KEY_REUSED, "This Idempotency-Key was used for a "
                    + "different job. Use a new key for a new job.", List.of(), Map.of("jobId", earlier.jobId()),
                    HttpHeaders.EMPTY);
        }
        JobRepository.Positioned found = jobs.find(owner, earlier.jobId()).orElseThrow();
        return new Submission(views.toView(found.row(), found.position()), true);
    }

    private Submission accepted(JobRepository.Inserted inserted) {
        if (!inserted.accepted()) {
            metrics.submissionRefused("cap");
            HttpHeaders headers = new HttpHeaders();
            headers.set(HttpHeaders.RETRY_AFTER, String.valueOf(Math.max(1, properties.retryAfter().toSeconds())));
            throw new ApiException(ApiProblem.TOO_MANY_JOBS_IN_FLIGHT, "This API key already has "
                    + inserted.inFlight() + " jobs queued or running; the limit is " + properties.maxInFlight()
                    + ". Submit more when some have finished.", List.of(),
                    Map.of("limit", properties.maxInFlight(), "inFlight", inserted.inFlight()), headers);
        }
        JobRow row = inserted.row();
        metrics.jobSubmitted(row.pool());
        log.info("Job(id={}) submitted: pool {}, ticket {}", row.id(), row.pool(), row.ticket());
        events.publishEvent(new DispatchRequested(inserted.outboxId(),
                new JobMessage(row.id(), row.ticket(), row.pool(), row.spec(), row.createdAt()), null));
        events.publishEvent(new JobChanged(row, null, inserted.position()));
        return new Submission(views.toView(row, inserted.position()), false);
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
            JobRepository.Positioned current = jobs.find(caller.keyId(), id).orElseThrow(() -> notFound(id));
            return new Cancellation(views.toView(current.row(), current.position()), result.oldStatus());
        }
        JobRow row = result.row();
        if (result.outboxId() > 0) {
            events.publishEvent(new DispatchRequested(result.outboxId(), null,
                    new CancelJobCommand(row.id(), result.outboxCreatedAt() == null ? Instant.now()
                            : result.outboxCreatedAt())));
        }
        if (row.status() == JobStatus.CANCELLED) {
            metrics.jobFinished(JobStatus.CANCELLED, row.pool(), null);
            log.info("Job(id={}) cancelled while queued", row.id());
        } else {
            log.info("Job(id={}) cancel requested while {}", row.id(), row.status());
        }
        events.publishEvent(new JobChanged(row, result.oldStatus(), null));
        return new Cancellation(views.toView(row, null), result.oldStatus());
    }

    JobView find(Caller caller, UUID id) {
        JobRepository.Positioned found = jobs.find(caller.keyId(), id).orElseThrow(() -> notFound(id));
        return views.toView(found.row(), found.position());
    }

    static ApiException notFound(UUID id) {
        return new ApiException(ApiProblem.JOB_NOT_FOUND, "No job " + id + " among this key's jobs.", List.of(),
                Map.of("jobId", id), HttpHeaders.EMPTY);
    }

    List<FieldError> validate(String pool, JobSpec spec) {
        List<FieldError> errors = new ArrayList<>();
        if (!Topology.isValidPool(pool)) {
            errors.add(new FieldError("pool", "must be 1-64 characters of a-z, 0-9 and '-', starting with a letter or digit"));
        } else if (!properties.pools().isEmpty() && !properties.pools().contains(pool)) {
            errors.add(new FieldError("pool", "is not a known pool (known: " + String.join(", ", properties.pools()) + ")"));
        }
        spec.violations().forEach(v -> errors.add(new FieldError(v.field(), v.message())));
        if (spec.sampler() != null && !properties.samplers().isEmpty() && !properties.samplers().contains(spec.sampler())
                && errors.stream().noneMatch(e -> e.field().equals("sampler"))) {
            errors.add(new FieldError("sampler", "is not a known sampler (known: " + String.join(", ", properties.samplers()) + ")"));
        }
        if (spec.checkpoint() != null && !properties.checkpoints().isEmpty()
                && !properties.checkpoints().contains(spec.checkpoint())
                && errors.stream().noneMatch(e -> e.field().equals("checkpoint"))) {
            errors.add(new FieldError("checkpoint", "is not a known checkpoint (known: "
                    + String.join(", ", properties.checkpoints()) + ")"));
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
