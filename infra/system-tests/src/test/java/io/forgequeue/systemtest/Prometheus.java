package io.forgequeue.systemtest;

import java.util.Map;

/** Reads counters from an app's {@code /actuator/prometheus} text (loopback, no key needed). */
final class Prometheus {

    private Prometheus() {}

    /**
     * Sum of the samples of metric {@code name} (exact name, e.g. {@code gpu_gateway_events_rejected_total}) whose
     * labels include every {@code label="value"} pair given; 0 when none, NaN when the app does not answer.
     */
    static double sum(String baseUrl, String name, Map<String, String> labels) {
        Http.Answer a = new Http(baseUrl, null).attemptGet("/actuator/prometheus");
        if (a.status() != 200) {
            return Double.NaN;
        }
        double total = 0;
        for (String line : a.text().split("\n")) {
            if (line.startsWith("#") || !line.startsWith(name)) {
                continue;
            }
            String rest = line.substring(name.length());
            if (!rest.startsWith("{") && !rest.startsWith(" ")) {
                continue; // another metric whose name starts with this one
            }
            boolean matches =
                    labels.entrySet().stream().allMatch(e -> rest.contains(e.getKey() + "=\"" + e.getValue() + "\""));
            if (matches) {
                total += Double.parseDouble(rest.substring(rest.lastIndexOf(' ') + 1));
            }
        }
        return total;
    }

    static double sum(String baseUrl, String name) {
        return sum(baseUrl, name, Map.of());
    }
}
