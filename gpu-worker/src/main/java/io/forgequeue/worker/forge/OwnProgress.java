package io.forgequeue.worker.forge;

/**
 * Progress of the worker's own txt2img, and only of it: {@link ForgeClient#ownProgress} gives one only while Forge is
 * working on this worker's request, never while it runs another client's job.
 *
 * @param percent    0..100, rounded down
 * @param step       current sampling step (0-based, as Forge counts)
 * @param steps      sampling steps of the job (at least 1)
 * @param etaSeconds seconds left, one decimal, or null while Forge's estimate is still meaningless (§11.3)
 * @param preview    live preview bytes (PNG, JPEG or WEBP), or null when none was asked for or none is newer
 */
public record OwnProgress(int percent, int step, int steps, Double etaSeconds, byte[] preview) {

    /** From GET /sdapi/v1/progress (API-only mode). */
    static OwnProgress of(ProgressSnapshot s, int requestedSteps) {
        int steps = s.samplingSteps() > 0 ? s.samplingSteps() : Math.max(1, requestedSteps);
        int step = Math.max(0, Math.min(s.samplingStep(), steps));
        Double eta = s.progress() >= 0.05 && s.samplingStep() > 0 && s.etaRelative() >= 0
                ? Math.round(s.etaRelative() * 10) / 10.0
                : null;
        return new OwnProgress(percent(s.progress()), step, steps, eta, s.currentImageBytes());
    }

    /** From POST /internal/progress (WebUI mode): one batch, so progress = step / steps. */
    static OwnProgress of(TaskProgress t, int requestedSteps) {
        int steps = Math.max(1, requestedSteps);
        double progress = t.progress() == null ? 0 : t.progress();
        int step = (int) Math.max(0, Math.min(steps, Math.round(progress * steps)));
        Double eta = progress >= 0.05 && step > 0 && t.eta() != null && t.eta() >= 0
                ? Math.round(t.eta() * 10) / 10.0
                : null;
        return new OwnProgress(
                percent(progress),
                step,
                steps,
                eta,
                t.livePreview() == null ? null : ResultImages.decode(t.livePreview()));
    }

    private static int percent(double progress) {
        return (int) Math.max(0, Math.min(100, Math.floor(progress * 100)));
    }
}
