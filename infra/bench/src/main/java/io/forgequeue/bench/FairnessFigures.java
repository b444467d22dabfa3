package io.forgequeue.bench;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The figures of the fairness scenario, computed from the jobs' own times (infra/bench/README.md, "fairness",
 * defines each). Times are seconds on one clock (the gateway's {@code createdAt}, the worker's {@code startedAt}
 * and {@code finishedAt}: one machine). Pure: no I/O, so the definitions are unit-tested.
 *
 * <ul>
 *   <li>wait = started - submitted, per key: p50 and p95 (nearest rank);</li>
 *   <li>a key is <b>backlogged</b> while it has a job queued (submitted, not yet started); time is cut into slices
 *       of {@code sliceSeconds} from the first submission; a key is backlogged <b>in a slice</b> when it is
 *       backlogged throughout it; a slice is <b>contended</b> when at least 2 keys are backlogged in it;</li>
 *   <li>GPU time of a key in a slice = the overlap of its jobs' [started, finished] with the slice;</li>
 *   <li>GPU share of a key = its GPU time in the contended slices / everybody's GPU time in them;</li>
 *   <li>Jain's index J = (sum x)^2 / (n sum x^2) over the n keys backlogged in at least one contended slice, with
 *       x = the key's GPU time in the contended slices where it is backlogged / (their number x slice) / weight:
 *       its GPU rate (in GPUs) while it waited for more and others did too;</li>
 *   <li>ETA error of a job that showed an ETA at submission: predicted start = submitted + max(0, eta - mean job
 *       time the gateway reported then) (the API's ETA is "until done"); error = |predicted start - started| /
 *       wait; p50 and p90 over those jobs.</li>
 * </ul>
 */
final class FairnessFigures {

    /**
     * One job as the figures need it.
     *
     * @param key            the key (user) that submitted it
     * @param submitted      its {@code createdAt}
     * @param started        its {@code startedAt}
     * @param finished       its {@code finishedAt}
     * @param etaSeconds     {@code eta.seconds} of the answer to its submission, or null when it showed none
     * @param meanJobSeconds the pool's mean job time the gateway reported when it was submitted, or null
     */
    record Job(
            String key, double submitted, double started, double finished, Double etaSeconds, Double meanJobSeconds) {

        double waitSeconds() {
            return started - submitted;
        }

        double gpuSecondsWithin(double from, double to) {
            return Math.max(0, Math.min(finished, to) - Math.max(started, from));
        }
    }

    /**
     * One key's figures.
     *
     * @param jobs            its jobs
     * @param waitP50         seconds
     * @param waitP95         seconds
     * @param gpuShare        its share of the GPU time in the contended slices, 0-1 (NaN when none was contended)
     * @param backlogSlices   contended slices in which it was backlogged
     * @param rate            x of Jain's index: GPUs it held while backlogged in contended slices, over its weight
     *                        (NaN when it was in none)
     * @param etaErrorP50     its jobs' ETA error, share of the wait (NaN without ETAs)
     */
    record KeyFigures(
            int jobs,
            double waitP50,
            double waitP95,
            double gpuShare,
            int backlogSlices,
            double rate,
            double etaErrorP50) {}

    /**
     * The scenario's figures.
     *
     * @param keys              per key, in the order given
     * @param jain              Jain's index (NaN when fewer than 2 keys were backlogged in a contended slice)
     * @param contendedSlices   slices with at least 2 keys backlogged
     * @param sliceSeconds      the slice length
     * @param etaJobs           jobs whose ETA error was computed
     * @param etaErrorP50       share of the wait
     * @param etaErrorP90       share of the wait
     * @param etaBiasP50Seconds median of (predicted start - started): negative = the ETA promised an earlier start
     * @param etaAbsErrorP50Seconds median absolute error in seconds
     * @param etaDoneErrorP50 the ETA taken as the API defines it, "until done": |submitted + eta - finished| /
     *                        (finished - submitted), median (no conversion to a start involved)
     * @param etaDoneErrorP90 the same, p90
     */
    record Result(
            Map<String, KeyFigures> keys,
            double jain,
            int contendedSlices,
            double sliceSeconds,
            int etaJobs,
            double etaErrorP50,
            double etaErrorP90,
            double etaBiasP50Seconds,
            double etaAbsErrorP50Seconds,
            double etaDoneErrorP50,
            double etaDoneErrorP90) {

        Result {
            keys = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(keys));
        }
    }

    private FairnessFigures() {}

    /**
     * @param jobs         the finished jobs (started and finished known)
     * @param keys         the keys in the order of the result (each key's weight)
     * @param sliceSeconds slice length (a few job times: a non-preemptive GPU serves whole jobs)
     */
    static Result compute(List<Job> jobs, Map<String, Double> keys, double sliceSeconds) {
        double origin = jobs.stream().mapToDouble(Job::submitted).min().orElse(0);
        double end = jobs.stream().mapToDouble(Job::finished).max().orElse(0);
        Map<String, List<double[]>> backlog = new LinkedHashMap<>();
        for (String key : keys.keySet()) {
            backlog.put(
                    key,
                    merged(jobs.stream()
                            .filter(j -> j.key().equals(key))
                            .map(j -> new double[] {j.submitted(), j.started()})
                            .toList()));
        }
        Map<String, Double> gpuAll = new LinkedHashMap<>();
        Map<String, Double> gpuBacklogged = new LinkedHashMap<>();
        Map<String, Integer> slicesBacklogged = new LinkedHashMap<>();
        keys.keySet().forEach(k -> {
            gpuAll.put(k, 0.0);
            gpuBacklogged.put(k, 0.0);
            slicesBacklogged.put(k, 0);
        });
        int contended = 0;
        for (double from = origin; from + sliceSeconds <= end + 1e-9; from += sliceSeconds) {
            double to = from + sliceSeconds;
            List<String> waiting = new ArrayList<>();
            for (String key : keys.keySet()) {
                if (covers(backlog.get(key), from, to)) {
                    waiting.add(key);
                }
            }
            if (waiting.size() < 2) {
                continue;
            }
            contended++;
            for (String key : keys.keySet()) {
                double f = from;
                double gpu = jobs.stream()
                        .filter(j -> j.key().equals(key))
                        .mapToDouble(j -> j.gpuSecondsWithin(f, to))
                        .sum();
                gpuAll.merge(key, gpu, Double::sum);
                if (waiting.contains(key)) {
                    gpuBacklogged.merge(key, gpu, Double::sum);
                    slicesBacklogged.merge(key, 1, Integer::sum);
                }
            }
        }
        double gpuTotal =
                gpuAll.values().stream().mapToDouble(Double::doubleValue).sum();
        List<Double> rates = new ArrayList<>();
        Map<String, KeyFigures> perKey = new LinkedHashMap<>();
        for (Map.Entry<String, Double> key : keys.entrySet()) {
            String k = key.getKey();
            List<Job> own = jobs.stream().filter(j -> j.key().equals(k)).toList();
            int slices = slicesBacklogged.get(k);
            double rate = slices == 0 ? Double.NaN : gpuBacklogged.get(k) / (slices * sliceSeconds) / key.getValue();
            if (slices > 0) {
                rates.add(rate);
            }
            perKey.put(
                    k,
                    new KeyFigures(
                            own.size(),
                            percentile(own.stream().map(Job::waitSeconds).toList(), 50),
                            percentile(own.stream().map(Job::waitSeconds).toList(), 95),
                            gpuTotal > 0 ? gpuAll.get(k) / gpuTotal : Double.NaN,
                            slices,
                            rate,
                            percentile(etaErrors(own), 50)));
        }
        List<Double> errors = etaErrors(jobs);
        List<Double> bias = new ArrayList<>();
        List<Double> absolute = new ArrayList<>();
        List<Double> done = new ArrayList<>();
        for (Job j : jobs) {
            Double predicted = predictedStart(j);
            if (predicted != null && j.waitSeconds() > 0) {
                bias.add(predicted - j.started());
                absolute.add(Math.abs(predicted - j.started()));
                done.add(Math.abs(j.submitted() + j.etaSeconds() - j.finished()) / (j.finished() - j.submitted()));
            }
        }
        return new Result(
                perKey,
                jain(rates),
                contended,
                sliceSeconds,
                errors.size(),
                percentile(errors, 50),
                percentile(errors, 90),
                percentile(bias, 50),
                percentile(absolute, 50),
                percentile(done, 50),
                percentile(done, 90));
    }

    /** When the job's ETA at submission said it would start, or null when it showed none. */
    static Double predictedStart(Job j) {
        if (j.etaSeconds() == null || j.meanJobSeconds() == null) {
            return null;
        }
        return j.submitted() + Math.max(0, j.etaSeconds() - j.meanJobSeconds());
    }

    private static List<Double> etaErrors(List<Job> jobs) {
        List<Double> out = new ArrayList<>();
        for (Job j : jobs) {
            Double predicted = predictedStart(j);
            if (predicted != null && j.waitSeconds() > 0) {
                out.add(Math.abs(predicted - j.started()) / j.waitSeconds());
            }
        }
        return out;
    }

    /** Jain's fairness index of {@code x}: 1 when all are equal, 1/n when one has everything; NaN below 2 values. */
    static double jain(List<Double> x) {
        if (x.size() < 2) {
            return Double.NaN;
        }
        double sum = 0;
        double squares = 0;
        for (double v : x) {
            sum += v;
            squares += v * v;
        }
        return squares == 0 ? Double.NaN : sum * sum / (x.size() * squares);
    }

    /** Nearest-rank percentile (0-100) of {@code values}; NaN when empty. */
    static double percentile(List<Double> values, double p) {
        if (values.isEmpty()) {
            return Double.NaN;
        }
        List<Double> sorted = values.stream().sorted().toList();
        int rank = (int) Math.ceil(p / 100.0 * sorted.size());
        return sorted.get(Math.max(0, Math.min(sorted.size() - 1, rank - 1)));
    }

    /** The union of the intervals [a, b), as disjoint intervals in order. */
    static List<double[]> merged(List<double[]> intervals) {
        List<double[]> sorted =
                new ArrayList<>(intervals.stream().filter(i -> i[1] > i[0]).toList());
        sorted.sort(Comparator.comparingDouble(i -> i[0]));
        List<double[]> out = new ArrayList<>();
        for (double[] i : sorted) {
            double[] last = out.isEmpty() ? null : out.get(out.size() - 1);
            if (last != null && i[0] <= last[1]) {
                last[1] = Math.max(last[1], i[1]);
            } else {
                out.add(new double[] {i[0], i[1]});
            }
        }
        return out;
    }

    private static boolean covers(List<double[]> union, double from, double to) {
        for (double[] i : union) {
            if (i[0] <= from && i[1] >= to) {
                return true;
            }
        }
        return false;
    }
}
