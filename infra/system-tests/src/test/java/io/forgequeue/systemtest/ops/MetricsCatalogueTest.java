package io.forgequeue.systemtest.ops;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static io.forgequeue.systemtest.ops.OpsFiles.list;
import static io.forgequeue.systemtest.ops.OpsFiles.string;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * docs/metrics.md against the code and the rules: every gpu.* meter the apps register is catalogued, every
 * catalogued gpu_* metric exists in the code, and the alert rules use only catalogued metrics.
 */
class MetricsCatalogueTest {

    /** A meter name in the apps' code: a string literal "gpu.gateway..." or "gpu.worker...". */
    private static final Pattern METER_LITERAL = Pattern.compile("\"(gpu\\.(?:gateway|worker)\\.[a-z0-9.-]+)\"");

    @Test
    void everyGpuMeterOfTheAppsIsInTheCatalogue() {
        Map<String, String> meters = appMeters();
        Set<String> catalogued = cataloguedGpuBases();
        Set<String> missing = new TreeSet<>();

        meters.forEach((base, meter) -> {
            if (!catalogued.contains(base)) {
                missing.add(meter);
            }
        });

        assertThat(meters).as("gpu.* meters found in the apps' code").hasSizeGreaterThanOrEqualTo(20);
        assertThat(missing).as("meters registered by the apps but not listed in docs/metrics.md").isEmpty();
    }

    @Test
    void everyCataloguedGpuMetricIsRegisteredByTheApps() {
        Set<String> inCode = appMeters().keySet();
        Set<String> unknown = new TreeSet<>(cataloguedGpuBases());

        unknown.removeAll(inCode);

        assertThat(unknown).as("gpu_* metrics in docs/metrics.md that no app registers").isEmpty();
    }

    @Test
    void theAlertRulesUseOnlyCataloguedMetrics() {
        Set<String> catalogue = OpsFiles.catalogue();
        Map<String, String> unknown = new TreeMap<>();

        for (Map<String, Object> group : list(OpsFiles.yamlFile("infra/prometheus/alerts.yml"), "groups")) {
            for (Map<String, Object> rule : list(group, "rules")) {
                for (String name : OpsFiles.metricNames(string(rule, "expr"))) {
                    if (!OpsFiles.isCatalogued(name, catalogue)) {
                        unknown.put(name, string(rule, "alert"));
                    }
                }
            }
        }

        assertThat(unknown).as("metric -> alert, not in docs/metrics.md").isEmpty();
    }

    @Test
    void theCatalogueSaysWhichRequestedMetricsAreMissing() {
        String doc = OpsFiles.read("docs/metrics.md");

        assertThat(doc).contains("## Requested but missing in the apps");
    }

    /** Normalised base name ("gpu_gateway_jobs_by_state") -> the meter name in the code. */
    private static Map<String, String> appMeters() {
        Map<String, String> meters = new TreeMap<>();
        for (String module : new String[] {"api-gateway", "gpu-worker"}) {
            Path src = OpsFiles.path(module + "/src/main/java");
            try (Stream<Path> files = Files.walk(src)) {
                files.filter(f -> f.toString().endsWith(".java")).forEach(f -> {
                    Matcher m = METER_LITERAL.matcher(readQuietly(f));
                    while (m.find()) {
                        meters.put(m.group(1).replace('.', '_').replace('-', '_'), m.group(1));
                    }
                });
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return meters;
    }

    /** Catalogued gpu_* names without what Prometheus appends: "_total", then the unit "_seconds". */
    private static Set<String> cataloguedGpuBases() {
        Set<String> bases = new TreeSet<>();
        for (String name : OpsFiles.catalogue()) {
            if (name.startsWith("gpu_")) {
                String base = name.replaceAll("_total$", "").replaceAll("_seconds$", "");
                bases.add(base);
            }
        }
        return bases;
    }

    private static String readQuietly(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
