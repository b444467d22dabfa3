package io.forgequeue.bench;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One scrape of an app's {@code /actuator/prometheus} page: sums of series by name and label filter, and the buckets
 * of a histogram, so two scrapes give the counts and the quantiles of what happened between them.
 */
final class PromPage {

    private static final HttpClient HTTP =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static final Pattern LINE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{([^}]*)})?\\s+(\\S+)$");

    private record Sample(String name, String labels, double value) {}

    private final List<Sample> samples;

    private PromPage(List<Sample> samples) {
        this.samples = samples;
    }

    /** Scrapes {@code baseUrl}/actuator/prometheus. */
    static PromPage scrape(String baseUrl) {
        try {
            HttpResponse<String> r = HTTP.send(
                    HttpRequest.newBuilder(URI.create(baseUrl + "/actuator/prometheus"))
                            .timeout(Duration.ofSeconds(20))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) {
                throw new IllegalStateException(baseUrl + "/actuator/prometheus answered " + r.statusCode());
            }
            return parse(r.body());
        } catch (IOException e) {
            throw new IllegalStateException("could not scrape " + baseUrl + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    static PromPage parse(String page) {
        List<Sample> out = new ArrayList<>();
        for (String line : page.split("\n")) {
            if (line.startsWith("#")) {
                continue;
            }
            Matcher m = LINE.matcher(line.trim());
            if (m.matches()) {
                try {
                    out.add(new Sample(
                            m.group(1), m.group(3) == null ? "" : m.group(3), Double.parseDouble(m.group(4))));
                } catch (NumberFormatException e) {
                    // NaN and friends are parsed by Double; anything else is skipped
                }
            }
        }
        return new PromPage(out);
    }

    /** The sum of the series {@code name} whose labels contain every {@code filter} ("k=\"v\""), 0 when none. */
    double sum(String name, String... filter) {
        double total = 0;
        for (Sample s : samples) {
            if (s.name().equals(name) && matches(s.labels(), filter)) {
                total += s.value();
            }
        }
        return total;
    }

    /** The largest value of the series {@code name}, NaN when none. */
    double max(String name) {
        double max = Double.NaN;
        for (Sample s : samples) {
            if (s.name().equals(name) && (Double.isNaN(max) || s.value() > max)) {
                max = s.value();
            }
        }
        return max;
    }

    /** Cumulative bucket counts of the histogram {@code name} (its {@code _bucket} series), summed over labels. */
    TreeMap<Double, Double> buckets(String name) {
        TreeMap<Double, Double> out = new TreeMap<>();
        Pattern le = Pattern.compile("le=\"([^\"]+)\"");
        for (Sample s : samples) {
            if (s.name().equals(name + "_bucket")) {
                Matcher m = le.matcher(s.labels());
                if (m.find()) {
                    double bound =
                            m.group(1).equals("+Inf") ? Double.POSITIVE_INFINITY : Double.parseDouble(m.group(1));
                    out.merge(bound, s.value(), Double::sum);
                }
            }
        }
        return out;
    }

    /**
     * The {@code q} quantile of the samples that arrived between two scrapes' buckets, interpolated linearly within
     * the bucket (as Prometheus' histogram_quantile); NaN when none arrived.
     */
    static double quantile(double q, Map<Double, Double> before, TreeMap<Double, Double> after) {
        TreeMap<Double, Double> delta = new TreeMap<>();
        after.forEach((le, n) -> delta.put(le, n - before.getOrDefault(le, 0.0)));
        if (delta.isEmpty()) {
            return Double.NaN;
        }
        double total = delta.lastEntry().getValue();
        if (total <= 0) {
            return Double.NaN;
        }
        double rank = q * total;
        double prevBound = 0;
        double prevCount = 0;
        for (Map.Entry<Double, Double> e : delta.entrySet()) {
            if (e.getValue() >= rank) {
                if (e.getKey().isInfinite()) {
                    return prevBound;
                }
                double inBucket = e.getValue() - prevCount;
                return inBucket <= 0
                        ? e.getKey()
                        : prevBound + (e.getKey() - prevBound) * (rank - prevCount) / inBucket;
            }
            prevBound = e.getKey();
            prevCount = e.getValue();
        }
        return prevBound;
    }

    private static boolean matches(String labels, String... filter) {
        for (String f : filter) {
            if (!labels.contains(f)) {
                return false;
            }
        }
        return true;
    }
}
