package io.forgequeue.gateway.queue;

/**
 * Estimated seconds until a queued job is done: until it starts, {@code position x (mean generation time + load
 * seconds per job) of its pool / available workers} (it is the position-th job to start from now, and the pool's
 * workers finish jobs at that rate; the jobs ahead cause checkpoint switches at the rate the pool's recent jobs did,
 * counted once per job, see {@link QueueSnapshot.PoolHistory}), then its own generation time. (The own time used to
 * be left out, so a job next in line on 4 GPUs showed a quarter of a job time "until done".)
 * Workers that are paused (Forge unreachable), draining or gone do not count, so an outage shows as no ETA instead of
 * an optimistic one.
 *
 * @param seconds    the point estimate
 * @param minSeconds lower end of the range (from the 20th percentile of recent job times), or null while there
 *                   is too little history for a range
 * @param maxSeconds upper end of the range (80th percentile), or null likewise
 */
public record Eta(double seconds, Double minSeconds, Double maxSeconds) {

    /**
     * The ETA of the job at {@code position}, or null when it cannot be estimated (no finished job of the pool in
     * the history window, or no available worker).
     */
    public static Eta of(
            int position, QueueSnapshot.PoolHistory history, int availableWorkers, int minSamplesForRange) {
        return of((double) position, history, availableWorkers, minSamplesForRange);
    }

    /** As {@link #of(int, QueueSnapshot.PoolHistory, int, int)}, for a projected position (not a whole number). */
    public static Eta of(
            double position, QueueSnapshot.PoolHistory history, int availableWorkers, int minSamplesForRange) {
        if (position < 1 || history.samples() == 0 || availableWorkers <= 0 || history.meanJobSeconds() == null) {
            return null;
        }
        double perWorker = position / availableWorkers;
        return startingIn(perWorker * (history.meanJobSeconds() + history.loadPerJob()), history, minSamplesForRange);
    }

    /**
     * The ETA of a job estimated to start {@code startSeconds} from now: then its own generation time. The range
     * scales the start as the job times do ({@code start x (p20 + load) / (mean + load)}, likewise p80), so a start
     * counted in jobs ahead gets the range those jobs would take. Null without history.
     */
    public static Eta startingIn(double startSeconds, QueueSnapshot.PoolHistory history, int minSamplesForRange) {
        if (history.samples() == 0 || history.meanJobSeconds() == null || !(startSeconds >= 0)) {
            return null;
        }
        double mean = history.meanJobSeconds();
        double load = history.loadPerJob();
        double seconds = round(startSeconds + mean);
        if (history.samples() < minSamplesForRange
                || history.lowJobSeconds() == null
                || history.highJobSeconds() == null) {
            return new Eta(seconds, null, null);
        }
        double perJob = mean + load > 0 ? startSeconds / (mean + load) : 0;
        double low = Math.min(seconds, round(perJob * (history.lowJobSeconds() + load) + history.lowJobSeconds()));
        double high = Math.max(seconds, round(perJob * (history.highJobSeconds() + load) + history.highJobSeconds()));
        return new Eta(seconds, low, high);
    }

    /** This ETA later by {@code seconds} (e.g. a checkpoint load before the job can start). */
    public Eta plus(double seconds) {
        return new Eta(
                round(this.seconds + seconds),
                minSeconds == null ? null : round(minSeconds + seconds),
                maxSeconds == null ? null : round(maxSeconds + seconds));
    }

    private static double round(double value) {
        return Math.round(value * 10.0) / 10.0;
    }
}
