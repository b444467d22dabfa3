package io.forgequeue.gateway.quota;

import java.util.Objects;

/**
 * What one API key may use, with the gateway's defaults already applied.
 *
 * @param maxQueued   most jobs the key may have waiting (QUEUED) at once; more is answered 429
 * @param maxRunning  most GPU slots (running or assigned jobs) the key may hold at once; 0 = no limit
 * @param weight      its share relative to other keys with waiting jobs (2 = twice the GPU time of a key with 1)
 * @param maxPriority the highest class its jobs may ask for
 */
public record Quota(int maxQueued, int maxRunning, double weight, Priority maxPriority) {

    public Quota {
        Objects.requireNonNull(maxPriority, "maxPriority");
        if (maxQueued < 0 || maxRunning < 0 || !(weight > 0)) {
            throw new IllegalArgumentException("invalid quota " + maxQueued + "/" + maxRunning + "/" + weight);
        }
    }

    /** Whether the key may hold another GPU slot while it holds {@code held}. */
    public boolean mayRunMore(int held) {
        return maxRunning == 0 || held < maxRunning;
    }
}
