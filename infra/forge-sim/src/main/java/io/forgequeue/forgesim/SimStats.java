package io.forgequeue.forgesim;

import java.util.Arrays;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * Counters of txt2img calls and the "GPU" duty cycle as the sim itself sees it: a busy interval runs from the moment
 * a txt2img call acquires the queue lock until it releases it; the idle gap is the time between one release and the
 * next acquire. Busy time splits into loading (checkpoint loads, each counted once it ends) and generating (the
 * rest), so that generating ÷ wall is the "useful GPU share". Thread-safe (synchronized; called a few times per job,
 * so contention is negligible).
 */
final class SimStats {

    /** Gaps kept for percentiles; beyond this the oldest half is dropped (a benchmark resets stats first anyway). */
    private static final int MAX_GAPS = 4_000_000;

    private long received;

    private long started;

    private long completed;

    private long interrupted;

    private long skipped;

    private long failed;

    private long rejected;

    private long hung;

    private long held;

    private long aborted;

    private long jobs;

    private long busyNanos;

    private long loadingNanos;

    private long modelLoads;

    private long firstStartNanos = -1;

    private long lastEndNanos = -1;

    private long currentStartNanos = -1;

    private long[] gapsMicros = new long[1024];

    private int gapCount;

    synchronized void received() {
        received++;
    }

    synchronized void rejected() {
        rejected++;
    }

    synchronized void hung() {
        hung++;
    }

    synchronized void held() {
        held++;
    }

    synchronized void aborted() {
        aborted++;
    }

    synchronized void failed() {
        failed++;
    }

    /** A txt2img call now holds the queue lock. */
    synchronized void busyStart(long nowNanos) {
        started++;
        if (firstStartNanos < 0) {
            firstStartNanos = nowNanos;
        } else if (lastEndNanos >= 0) {
            addGap((nowNanos - lastEndNanos) / 1_000);
        }
        currentStartNanos = nowNanos;
    }

    /** A checkpoint load inside a busy interval took this long (not counted when stats were reset meanwhile). */
    synchronized void modelLoaded(long nanos) {
        if (currentStartNanos < 0) {
            return;
        }
        modelLoads++;
        loadingNanos += Math.max(0, nanos);
    }

    /** The call released the lock. */
    synchronized void busyEnd(long nowNanos) {
        if (currentStartNanos < 0) {
            return; // stats were reset while this job ran
        }
        jobs++;
        busyNanos += nowNanos - currentStartNanos;
        lastEndNanos = nowNanos;
        currentStartNanos = -1;
    }

    synchronized void completed(boolean wasInterrupted, boolean wasSkipped) {
        completed++;
        if (wasInterrupted) {
            interrupted++;
        }
        if (wasSkipped) {
            skipped++;
        }
    }

    synchronized void reset() {
        received = 0;
        started = 0;
        completed = 0;
        interrupted = 0;
        skipped = 0;
        failed = 0;
        rejected = 0;
        hung = 0;
        held = 0;
        aborted = 0;
        jobs = 0;
        busyNanos = 0;
        loadingNanos = 0;
        modelLoads = 0;
        firstStartNanos = -1;
        lastEndNanos = -1;
        currentStartNanos = -1;
        gapCount = 0;
    }

    synchronized ObjectNode snapshot(boolean includeGaps, long nowNanos) {
        ObjectNode root = Json.object();
        ObjectNode calls = root.putObject("txt2img");
        calls.put("received", received);
        calls.put("started", started);
        calls.put("completed", completed);
        calls.put("interrupted", interrupted);
        calls.put("skipped", skipped);
        calls.put("failed", failed);
        calls.put("rejected", rejected);
        calls.put("hung", hung);
        calls.put("held", held);
        calls.put("aborted", aborted);

        ObjectNode duty = root.putObject("duty");
        long busy = busyNanos + (currentStartNanos >= 0 ? nowNanos - currentStartNanos : 0);
        long wall = firstStartNanos < 0 ? 0 : nowNanos - firstStartNanos;
        long spanEnd = currentStartNanos >= 0 ? nowNanos : lastEndNanos;
        long span = firstStartNanos < 0 || spanEnd < 0 ? 0 : spanEnd - firstStartNanos;
        duty.put("jobs", jobs);
        duty.put("running", currentStartNanos >= 0);
        duty.put("busyMicros", busy / 1_000);
        duty.put("wallMicros", wall / 1_000);
        duty.put("spanMicros", span / 1_000);
        duty.put("dutyCycle", span <= 0 ? 0.0 : Math.min(1.0, (double) busy / span));
        long loading = Math.min(loadingNanos, busy);
        duty.put("modelLoads", modelLoads);
        duty.put("loadingMicros", loading / 1_000);
        duty.put("generatingMicros", busy / 1_000 - loading / 1_000);
        duty.put("usefulShare", wall <= 0 ? 0.0 : Math.min(1.0, (double) (busy - loading) / wall));
        long[] sorted = Arrays.copyOf(gapsMicros, gapCount);
        Arrays.sort(sorted);
        duty.put("gapCount", gapCount);
        duty.put("gapP50Micros", percentile(sorted, 0.50));
        duty.put("gapP90Micros", percentile(sorted, 0.90));
        duty.put("gapP99Micros", percentile(sorted, 0.99));
        duty.put("gapMaxMicros", sorted.length == 0 ? 0 : sorted[sorted.length - 1]);
        duty.put(
                "gapMeanMicros",
                sorted.length == 0 ? 0.0 : Arrays.stream(sorted).average().orElse(0));
        if (includeGaps) {
            ArrayNode list = duty.putArray("gapsMicros");
            for (int i = 0; i < gapCount; i++) {
                list.add(gapsMicros[i]);
            }
        }
        return root;
    }

    /** Nearest-rank percentile of a sorted array; 0 when empty. */
    static long percentile(long[] sorted, double p) {
        if (sorted.length == 0) {
            return 0;
        }
        int rank = (int) Math.ceil(p * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }

    private void addGap(long micros) {
        if (gapCount == gapsMicros.length) {
            if (gapCount >= MAX_GAPS) {
                int keep = gapCount / 2;
                System.arraycopy(gapsMicros, gapCount - keep, gapsMicros, 0, keep);
                gapCount = keep;
            } else {
                gapsMicros = Arrays.copyOf(gapsMicros, gapsMicros.length * 2);
            }
        }
        gapsMicros[gapCount++] = micros;
    }
}
