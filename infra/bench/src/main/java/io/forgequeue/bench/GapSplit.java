package io.forgequeue.bench;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Splits the GPU's mean idle gap between two jobs into where the time went, from the workers' own timers
 * ({@code /actuator/prometheus}) read before and after a run, and forge-sim's busy time:
 * <ol>
 *   <li>{@code result}: Forge answered → the outcome event handed to the broker (worker);</li>
 *   <li>{@code confirm}: the outcome handed to the broker → confirmed (broker, quorum-queue write);</li>
 *   <li>{@code handout}: the job acked → the next job delivered (broker; the worker's {@code idle.gap});</li>
 *   <li>{@code prepare}: the next job delivered → its txt2img request sent (worker);</li>
 *   <li>{@code http}: a txt2img call's time minus the sim's busy time: the request and the answer on the wire,
 *       and the sim's own work outside its lock (reading the request, encoding the images);</li>
 *   <li>{@code rest}: the gap's mean minus all of the above (e.g. the listener's return and its ack).</li>
 * </ol>
 * All means per job, so they add up; with a backlog every job but the first has a gap before it.
 */
final class GapSplit {

    static final List<String> PARTS = List.of("result", "confirm", "handout", "prepare", "http", "rest");

    private static final HttpClient HTTP =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private static final Pattern LINE = Pattern.compile(
            "^(gpu_worker_turnaround_seconds|gpu_worker_idle_gap_seconds|gpu_worker_forge_calls_seconds)_(sum|count)"
                    + "\\{([^}]*)} ([0-9.eE+-]+)$");

    /** Sum (seconds) and count of one timer. */
    record Timer(double seconds, double count) {

        Timer plus(Timer o) {
            return new Timer(seconds + o.seconds, count + o.count);
        }

        Timer minus(Timer o) {
            return new Timer(seconds - o.seconds, count - o.count);
        }

        double meanMillis() {
            return count <= 0 ? 0 : seconds * 1000 / count;
        }
    }

    private GapSplit() {}

    /** The timers of all workers together: prepare, result, confirm, handout, txt2img. */
    static Map<String, Timer> read(List<AppProcess> workers) {
        Map<String, Timer> total = new LinkedHashMap<>();
        for (AppProcess worker : workers) {
            parse(scrape(worker.baseUrl() + "/actuator/prometheus")).forEach((k, v) -> total.merge(k, v, Timer::plus));
        }
        return total;
    }

    /** Parses the timers this split needs out of a Prometheus text page. */
    static Map<String, Timer> parse(String page) {
        Map<String, double[]> parts = new LinkedHashMap<>();
        for (String line : page.split("\n")) {
            Matcher m = LINE.matcher(line.trim());
            if (!m.matches()) {
                continue;
            }
            String key = key(m.group(1), m.group(3));
            if (key == null) {
                continue;
            }
            double[] sc = parts.computeIfAbsent(key, k -> new double[2]);
            sc[m.group(2).equals("sum") ? 0 : 1] += Double.parseDouble(m.group(4));
        }
        Map<String, Timer> timers = new LinkedHashMap<>();
        parts.forEach((k, sc) -> timers.put(k, new Timer(sc[0], sc[1])));
        return timers;
    }

    private static String key(String metric, String labels) {
        switch (metric) {
            case "gpu_worker_idle_gap_seconds":
                return "handout";
            case "gpu_worker_turnaround_seconds": {
                Matcher stage = Pattern.compile("stage=\"([a-z]+)\"").matcher(labels);
                return stage.find() ? stage.group(1) : null;
            }
            default:
                return labels.contains("call=\"txt2img\"") && labels.contains("outcome=\"success\"") ? "txt2img" : null;
        }
    }

    /**
     * The split of the mean gap, in ms per job.
     *
     * @param before         {@link #read} before the run
     * @param after          {@link #read} after it
     * @param simBusyMicros  forge-sim's busy time over the run (all sims)
     * @param simJobs        jobs the sims ran
     * @param meanGapMillis  the sims' mean idle gap
     */
    static Map<String, Double> split(
            Map<String, Timer> before,
            Map<String, Timer> after,
            long simBusyMicros,
            long simJobs,
            double meanGapMillis) {
        Map<String, Double> split = new LinkedHashMap<>();
        double accounted = 0;
        for (String part : List.of("result", "confirm", "handout", "prepare")) {
            double ms = delta(before, after, part).meanMillis();
            split.put(part, ms);
            accounted += ms;
        }
        double call = delta(before, after, "txt2img").meanMillis();
        double http = simJobs == 0 ? 0 : Math.max(0, call - simBusyMicros / 1000.0 / simJobs);
        split.put("http", http);
        accounted += http;
        split.put("rest", meanGapMillis - accounted);
        return split;
    }

    private static Timer delta(Map<String, Timer> before, Map<String, Timer> after, String key) {
        Timer zero = new Timer(0, 0);
        return after.getOrDefault(key, zero).minus(before.getOrDefault(key, zero));
    }

    private static String scrape(String url) {
        try {
            HttpResponse<String> r = HTTP.send(
                    HttpRequest.newBuilder(URI.create(url))
                            .timeout(Duration.ofSeconds(10))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) {
                throw new IllegalStateException(url + " answered " + r.statusCode());
            }
            return r.body();
        } catch (IOException e) {
            throw new IllegalStateException("could not read " + url + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted reading " + url, e);
        }
    }
}
