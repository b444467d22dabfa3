package io.forgequeue.worker.job;

/**
 * Decides which progress readings become PROGRESS events: only a percentage higher than the last one sent, and
 * at most one per {@code minInterval}. A reading dropped for being too early is not lost: the next poll reads a
 * newer value. Not thread-safe (one poller per job).
 */
final class ProgressThrottle {

    private final long minIntervalNanos;
    private int lastPercent = -1;
    private long lastSentNanos;
    private boolean sentAny;

    ProgressThrottle(long minIntervalNanos) {
        this.minIntervalNanos = minIntervalNanos;
    }

    /** @return whether this reading should be sent (and is now the last one sent) */
    boolean offer(int percent, long nowNanos) {
        if (percent <= lastPercent) {
            return false;
        }
        if (sentAny && nowNanos - lastSentNanos < minIntervalNanos) {
            return false;
        }
        lastPercent = percent;
        lastSentNanos = nowNanos;
        sentAny = true;
        return true;
    }

    int lastPercent() {
        return lastPercent;
    }
}
