package io.forgequeue.forgesim;

import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Base64;
import tools.jackson.databind.node.ObjectNode;

/**
 * Forge's process-wide {@code shared.state} singleton ({@code modules/shared_state.py}): what GET /progress reports.
 * The flags are reset only by {@link #begin}, so an interrupt sent while idle, or while a call still waits for the
 * queue lock, is lost, and the idle state keeps the last job's {@code job_no}, {@code sampling_step(s)},
 * {@code job_timestamp} and flags. Thread-safe: every method is synchronized; none takes the queue lock.
 */
final class GenerationState {

    private static final DateTimeFormatter TIMESTAMP = DateTimeFormatter.ofPattern("yyyyMMddHHmmss");

    private static final int PREVIEW_MAX_SIDE = 128;

    private boolean skipped;

    private boolean interrupted;

    private boolean stoppingGeneration;

    private String job = "";

    private int jobNo;

    private int jobCount;

    private String jobTimestamp = "0";

    private int samplingStep;

    private int samplingSteps;

    private long timeStartNanos = System.nanoTime();

    private boolean hasLatent;

    private ImageRenderer.Spec previewSource;

    private String currentImage;

    private int currentImageSamplingStep;

    private int idLivePreview;

    /** {@code state.begin(job)}: a new job starts; clears the flags and the preview. */
    synchronized void begin(String jobName) {
        samplingStep = 0;
        timeStartNanos = System.nanoTime();
        jobCount = -1;
        jobNo = 0;
        jobTimestamp = LocalDateTime.now().format(TIMESTAMP);
        hasLatent = false;
        previewSource = null;
        currentImage = null;
        currentImageSamplingStep = 0;
        idLivePreview = 0;
        skipped = false;
        interrupted = false;
        stoppingGeneration = false;
        job = jobName;
    }

    /** {@code state.end()}: only {@code job} and {@code job_count} are reset. */
    synchronized void end() {
        job = "";
        jobCount = 0;
    }

    /**
     * What {@code call_queue.wrap_gradio_call} does after a job started from the web UI: the flags are reset, so
     * an interrupt of a UI job leaves no trace in the idle state (forge-api.md §6).
     */
    synchronized void endUiJob() {
        skipped = false;
        interrupted = false;
        stoppingGeneration = false;
        jobCount = 0;
    }

    /** After a batch: {@code job_no += 1}, {@code sampling_step = 0}. */
    synchronized void nextJob(boolean livePreviews, int previewEvery) {
        if (livePreviews && previewEvery == -1) {
            renderPreview();
        }
        jobNo++;
        samplingStep = 0;
        currentImageSamplingStep = 0;
    }

    synchronized void interrupt() {
        interrupted = true;
    }

    synchronized void skip() {
        skipped = true;
    }

    synchronized boolean interrupted() {
        return interrupted;
    }

    synchronized boolean skipped() {
        return skipped;
    }

    synchronized boolean stoppingGeneration() {
        return stoppingGeneration;
    }

    /** The loop head of {@code process_images_inner}: a pending skip is cleared before the next batch. */
    synchronized void clearSkip() {
        skipped = false;
    }

    synchronized String jobTimestamp() {
        return jobTimestamp;
    }

    synchronized int jobCount() {
        return jobCount;
    }

    synchronized void setJob(String jobName) {
        job = jobName;
    }

    synchronized void setJobCount(int count) {
        jobCount = count;
    }

    /** {@code launch_sampling}: a sampling pass of {@code steps} steps starts for the batch drawn as {@code source}. */
    synchronized void startSampling(int steps, ImageRenderer.Spec source) {
        samplingSteps = steps;
        samplingStep = 0;
        previewSource = source;
    }

    /** The sampler's callback after step index {@code i} (0-based) has finished. */
    synchronized void stepDone(int i) {
        samplingStep = i;
        hasLatent = true;
    }

    /** Forgets everything, as a restarted Forge process would. */
    synchronized void reset() {
        skipped = false;
        interrupted = false;
        stoppingGeneration = false;
        job = "";
        jobNo = 0;
        jobCount = 0;
        jobTimestamp = "0";
        samplingStep = 0;
        samplingSteps = 0;
        hasLatent = false;
        previewSource = null;
        currentImage = null;
        currentImageSamplingStep = 0;
        idLivePreview = 0;
    }

    /**
     * The per-task part of POST /internal/progress for the task that holds the lock ({@code modules/progress.py}):
     * {@code progress} without Forge's 0.01 offset (null-free: 0 while the job count is unknown), {@code eta} (null
     * until there is progress), and the live preview as a {@code data:} URI when one newer than
     * {@code knownPreviewId} exists.
     */
    synchronized ObjectNode taskProgress(
            boolean livePreview, int knownPreviewId, boolean livePreviews, int previewEvery) {
        double progress = 0;
        if (jobCount > 0) {
            progress += (double) jobNo / jobCount;
            if (samplingSteps > 0) {
                progress += 1.0 / jobCount * samplingStep / samplingSteps;
            }
        }
        progress = Math.min(progress, 1);
        double elapsed = (System.nanoTime() - timeStartNanos) / 1e9;
        ObjectNode body = Json.object();
        body.put("progress", progress);
        if (progress > 0) {
            body.put("eta", elapsed / progress - elapsed);
        } else {
            body.putNull("eta");
        }
        String preview = null;
        int previewId = knownPreviewId;
        if (livePreviews && livePreview) {
            if (samplingStep - currentImageSamplingStep >= previewEvery && previewEvery != -1) {
                renderPreview();
            }
            if (idLivePreview != knownPreviewId && currentImage != null) {
                preview = "data:image/png;base64," + currentImage;
                previewId = idLivePreview;
            }
        }
        if (preview == null) {
            body.putNull("live_preview");
        } else {
            body.put("live_preview", preview);
        }
        body.put("id_live_preview", previewId);
        body.putNull("textinfo");
        return body;
    }

    /**
     * The body of GET /sdapi/v1/progress, computed with Forge's formula:
     * {@code 0.01 + job_no/job_count + (1/job_count) * sampling_step/sampling_steps}, clamped to 1.
     */
    synchronized ObjectNode progress(boolean skipCurrentImage, boolean livePreviews, int previewEvery) {
        ObjectNode body = Json.object();
        if (jobCount == 0) {
            body.put("progress", 0.0);
            body.put("eta_relative", 0.0);
            body.set("state", stateDict());
            body.putNull("current_image");
            body.putNull("textinfo");
            return body;
        }
        double progress = 0.01;
        if (jobCount > 0) {
            progress += (double) jobNo / jobCount;
        }
        if (samplingSteps > 0) {
            progress += 1.0 / jobCount * samplingStep / samplingSteps;
        }
        if (progress == 0) {
            throw ApiError.python("ZeroDivisionError", "float division by zero");
        }
        double elapsed = (System.nanoTime() - timeStartNanos) / 1e9;
        double eta = elapsed / progress;
        progress = Math.min(progress, 1);

        if (samplingStep - currentImageSamplingStep >= previewEvery
                && livePreviews
                && previewEvery != -1
                && !skipCurrentImage) {
            renderPreview();
        }
        body.put("progress", progress);
        body.put("eta_relative", eta - elapsed);
        body.set("state", stateDict());
        if (currentImage != null && !skipCurrentImage) {
            body.put("current_image", currentImage);
        } else {
            body.putNull("current_image");
        }
        body.putNull("textinfo");
        return body;
    }

    private ObjectNode stateDict() {
        ObjectNode state = Json.object();
        state.put("skipped", skipped);
        state.put("interrupted", interrupted);
        state.put("stopping_generation", stoppingGeneration);
        state.put("job", job);
        state.put("job_count", jobCount);
        state.put("job_timestamp", jobTimestamp);
        state.put("job_no", jobNo);
        state.put("sampling_step", samplingStep);
        state.put("sampling_steps", samplingSteps);
        return state;
    }

    /** {@code do_set_current_image}: a small, noisy rendering of the batch's first image. */
    private void renderPreview() {
        if (!hasLatent || previewSource == null) {
            return;
        }
        double completion = samplingSteps > 0 ? (double) (samplingStep + 1) / samplingSteps : 0;
        ImageRenderer.Spec spec = ImageRenderer.previewOf(previewSource, PREVIEW_MAX_SIDE);
        spec = new ImageRenderer.Spec(
                spec.prompt(), spec.seed(), spec.width(), spec.height(), Math.min(completion, 0.99));
        byte[] png = PngEncoder.encode(ImageRenderer.render(spec), spec.width(), spec.height(), null);
        currentImage = Base64.getEncoder().encodeToString(png);
        currentImageSamplingStep = samplingStep;
        idLivePreview++;
    }
}
