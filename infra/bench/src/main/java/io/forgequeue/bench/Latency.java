package io.forgequeue.bench;

import java.util.LinkedHashMap;
import java.util.Map;
import org.HdrHistogram.Histogram;

/** A latency histogram in microseconds (HdrHistogram, 3 significant digits, up to 10 minutes). Thread-safe. */
final class Latency {

    private final Histogram histogram = new Histogram(600_000_000L, 3);

    synchronized void recordMicros(long micros) {
        histogram.recordValue(Math.max(0, Math.min(micros, histogram.getHighestTrackableValue())));
    }

    void recordNanos(long nanos) {
        recordMicros(nanos / 1_000);
    }

    synchronized long count() {
        return histogram.getTotalCount();
    }

    /** The value at {@code percentile} (0-100) in milliseconds. */
    synchronized double millis(double percentile) {
        return histogram.getTotalCount() == 0 ? Double.NaN : histogram.getValueAtPercentile(percentile) / 1000.0;
    }

    synchronized double maxMillis() {
        return histogram.getTotalCount() == 0 ? Double.NaN : histogram.getMaxValue() / 1000.0;
    }

    synchronized double meanMillis() {
        return histogram.getTotalCount() == 0 ? Double.NaN : histogram.getMean() / 1000.0;
    }

    /** count, p50, p90, p99, p99.9, max and mean in milliseconds (3 decimals), for the results file. */
    synchronized Map<String, Object> summary() {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("count", histogram.getTotalCount());
        if (histogram.getTotalCount() == 0) {
            return out;
        }
        out.put("p50Ms", round3(millis(50)));
        out.put("p90Ms", round3(millis(90)));
        out.put("p99Ms", round3(millis(99)));
        out.put("p999Ms", round3(millis(99.9)));
        out.put("maxMs", round3(maxMillis()));
        out.put("meanMs", round3(meanMillis()));
        return out;
    }

    static double round3(double v) {
        return Double.isNaN(v) ? v : Math.round(v * 1000) / 1000.0;
    }
}
