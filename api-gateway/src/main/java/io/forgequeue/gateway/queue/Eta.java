package io.forgequeue.gateway.queue;

/**
 * Estimated seconds until a queued job is done: {@code position x mean job time / active workers}.
 *
 * @param seconds    the point estimate
 * @param minSeconds lower end of the range (from the 20th percentile of recent job times), or null while there
 *                   is too little history for a range
 * @param maxSeconds upper end of the range (80th percentile), or null likewise
 */
public record Eta(double seconds, Double minSeconds, Double maxSeconds) {

    /**
     * The ETA of the job at {@code position}, or null when it cannot be estimated (no finished job in the
     * history window, or no active worker).
     */
    public static Eta of(int position, QueueSnapshot queue, int minSamplesForRange) {
        if (position < 1 || queue.samples() == 0 || queue.activeWorkers() == 0 || queue.meanJobSeconds() == null) {
            return null;
        }
        double perWorker = (double) position / queue.activeWorkers();
        double seconds = round(perWorker * queue.meanJobSeconds());
        if (queue.samples() < minSamplesForRange || queue.lowJobSeconds() == null || queue.highJobSeconds() == null) {
            return new Eta(seconds, null, null);
        }
        double low = Math.min(seconds, round(perWorker * queue.lowJobSeconds()));
        double high = Math.max(seconds, round(perWorker * queue.highJobSeconds()));
        return new Eta(seconds, low, high);
    }

    private static double round(double value) {
        return Math.round(value * 10.0) / 10.0;
    }
}
