package io.forgequeue.gateway;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One scrape of {@code /actuator/prometheus}, parsed (Prometheus text format: {@code name{k="v",...} value}).
 * Exactly what Prometheus would store, so tests read the names, labels and values operators query.
 */
final class PrometheusScrape {

    private static final Pattern SAMPLE =
            Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\\{(.*)})?\\s+(\\S+)(?:\\s+\\S+)?$");
    private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\"");

    /** One sample: metric name, labels, value. */
    record Sample(String name, Map<String, String> labels, double value) {

        boolean has(String... labelPairs) {
            for (int i = 0; i + 1 < labelPairs.length; i += 2) {
                if (!labelPairs[i + 1].equals(labels.get(labelPairs[i]))) {
                    return false;
                }
            }
            return true;
        }
    }

    private final List<Sample> samples;
    private final String text;

    private PrometheusScrape(String text, List<Sample> samples) {
        this.text = text;
        this.samples = List.copyOf(samples);
    }

    static PrometheusScrape of(Api api) {
        Api.Response response = api.get(null, "/actuator/prometheus");
        if (response.status() != 200) {
            throw new AssertionError("/actuator/prometheus answered " + response.status() + ": " + response.text());
        }
        return parse(response.text());
    }

    static PrometheusScrape parse(String text) {
        List<Sample> samples = new ArrayList<>();
        for (String line : text.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            Matcher m = SAMPLE.matcher(line.trim());
            if (!m.matches()) {
                throw new AssertionError("not a Prometheus sample line: " + line);
            }
            Map<String, String> labels = new LinkedHashMap<>();
            if (m.group(2) != null) {
                Matcher l = LABEL.matcher(m.group(2));
                while (l.find()) {
                    labels.put(l.group(1), l.group(2));
                }
            }
            samples.add(
                    new Sample(m.group(1), labels, Double.parseDouble(m.group(3).replace("+Inf", "Infinity"))));
        }
        return new PrometheusScrape(text, samples);
    }

    /** Every sample of metric {@code name} (exact name, e.g. {@code gpu_gateway_jobs_finished_total}). */
    List<Sample> samples(String name) {
        return samples.stream().filter(s -> s.name().equals(name)).toList();
    }

    List<Sample> all() {
        return samples;
    }

    /** The value of the one sample of {@code name} with these labels (pairs: key, value, ...); fails if not one. */
    double value(String name, String... labelPairs) {
        List<Sample> found =
                samples(name).stream().filter(s -> s.has(labelPairs)).toList();
        if (found.size() != 1) {
            throw new AssertionError(found.size() + " samples of " + name + " with " + Arrays.toString(labelPairs)
                    + " (expected exactly one); all of " + name + ": " + samples(name));
        }
        return found.get(0).value();
    }

    /** The sum of the samples of {@code name} with these labels (0 when none). */
    double sum(String name, String... labelPairs) {
        return samples(name).stream()
                .filter(s -> s.has(labelPairs))
                .mapToDouble(Sample::value)
                .sum();
    }

    @Override
    public String toString() {
        return text;
    }
}
