package io.forgequeue.gateway.job;

import io.forgequeue.gateway.queue.Eta;
import io.forgequeue.gateway.quota.Priority;
import io.forgequeue.model.ErrorCode;
import io.forgequeue.model.JobSpec;
import io.forgequeue.model.JobStatus;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * A job as the API shows it (REST bodies and WebSocket frames). Absent (null) members are left out of the JSON.
 *
 * @param ticket          place in line: unique and increasing across all gateways
 * @param position        1-based place among the QUEUED jobs of the pool; only while QUEUED (and not in update
 *                        frames, where a position frame follows)
 * @param eta             estimated seconds until done; only while QUEUED and once there is job history
 * @param progress        0-100, never backwards within an attempt
 * @param attempt         the attempt the job is on, 0 before a worker took it
 * @param error           why it failed (FAILED only): a stable code and a message for a person
 * @param images          links to the result images (SUCCEEDED only); bytes are never inline
 * @param metadata        what the generation used, as the worker reported it: only the keys of
 *                        {@link JobViews#PUBLIC_METADATA} (seed, model, sampler, ...). Which worker ran the job and
 *                        its technical details stay with the operators (database, logs, metrics)
 * @param cancelRequested whether its owner asked to cancel it
 * @param version         increases with every change; WebSocket clients resume from it
 * @param priority        the priority class its owner asked for
 * @param waiting         why and behind whom it waits; only while QUEUED
 * @param hiddenAt        when its owner hid it from the history (a finished job); absent while shown
 * @param dataErased      when and why the job's prompts and images were erased; only once they were (then
 *                        {@code spec.prompt} and {@code spec.negativePrompt} are empty, {@code images} is empty and
 *                        the error message is the code's default)
 */
public record JobView(
        UUID id,
        JobStatus status,
        String pool,
        long ticket,
        Integer position,
        Eta eta,
        int progress,
        int attempt,
        ErrorView error,
        List<ImageView> images,
        SpecView spec,
        Map<String, Object> metadata,
        boolean cancelRequested,
        Instant createdAt,
        Instant startedAt,
        Instant finishedAt,
        long version,
        Priority priority,
        WaitingView waiting,
        Instant hiddenAt,
        DataErasedView dataErased) {

    /** This view with another position and ETA. */
    public JobView withPosition(Integer newPosition, Eta newEta) {
        return new JobView(
                id,
                status,
                pool,
                ticket,
                newPosition,
                newEta,
                progress,
                attempt,
                error,
                images,
                spec,
                metadata,
                cancelRequested,
                createdAt,
                startedAt,
                finishedAt,
                version,
                priority,
                waiting,
                hiddenAt,
                dataErased);
    }

    /**
     * The job's prompts and images are gone; the job itself (id, status, times, settings) stays.
     *
     * @param at when they were erased
     * @param by {@code owner} (its owner erased them: {@code DELETE /api/v1/jobs/{id}/data}) or {@code retention}
     *           (the gateway's retention time passed since the job finished)
     */
    public record DataErasedView(Instant at, String by) {}

    /**
     * Where a queued job stands in the scheduler's plan.
     *
     * @param ahead    jobs that start before it (position - 1): jobs already assigned to a GPU, then the waiting jobs
     *                 the scheduler serves first (higher priority, fairer turn)
     * @param ownAhead of those, the caller's own jobs
     * @param next     whether it is already assigned to a GPU and starts when that GPU finishes its current job
     * @param blocked  why it cannot start right now however long it waits (no GPU available, no GPU offers its
     *                 checkpoint), for a person; null when it just waits its turn
     * @param returned whether it was handed to a GPU before and given back (its GPU stopped, paused or left): it
     *                 will run again. In job views always set; left out of position frames (it changes only with
     *                 the job, whose update frame says so)
     */
    public record WaitingView(int ahead, int ownAhead, boolean next, String blocked, Boolean returned) {}

    /**
     * Why a job failed.
     *
     * @param code      stable error code ({@link ErrorCode} name)
     * @param message   for a person
     * @param retryable whether submitting the same job again may succeed
     */
    public record ErrorView(String code, String message, boolean retryable) {}

    /**
     * One result image.
     *
     * @param url relative URL of the bytes: {@code /api/v1/jobs/{id}/images/{index}}
     */
    public record ImageView(int index, String url, String mimeType, int width, int height, long seed) {}

    /** The job's settings, defaults applied. */
    public record SpecView(
            String prompt,
            String negativePrompt,
            int width,
            int height,
            int steps,
            double cfgScale,
            String sampler,
            String scheduler,
            long seed,
            String checkpoint,
            int batchSize) {

        static SpecView of(JobSpec s) {
            return new SpecView(
                    s.prompt(),
                    s.negativePrompt(),
                    s.width(),
                    s.height(),
                    s.steps(),
                    s.cfgScale(),
                    s.sampler(),
                    s.scheduler(),
                    s.seed(),
                    s.checkpoint(),
                    s.batchSize());
        }
    }
}
