package io.forgequeue.systemtest.ops;

import static io.forgequeue.systemtest.ops.OpsFiles.list;
import static io.forgequeue.systemtest.ops.OpsFiles.string;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * docs/metrics.md against the code and the rules: every gpu.* meter the apps register is catalogued, every
 * catalogued gpu_* metric exists in the code, every tag the catalogue gives a gpu_* metric is named in its app's
 * code, nothing is marked as missing, and the alert rules use only catalogued metrics. (The gateway's
 * MetricsIT checks the catalogue's gateway rows, tags included, against a running gateway's scrape.)
 */
class MetricsCatalogueTest {

    /** A meter name in the apps' code: a string literal "gpu.gateway..." or "gpu.worker...". */
    private static final Pattern METER_LITERAL = Pattern.compile("\"(gpu\\.(?:gateway|worker)\\.[a-z0-9.-]+)\"");

    /** A gpu_* catalogue row: name, then the cells after the type (tags first). */
    private static final Pattern TAGGED_ROW =
            Pattern.compile("^\\|\\s*`(gpu_(?:gateway|worker)_[a-z0-9_]+)`\\s*\\|[^|]*\\|(.*)$");

    private static final Pattern TAG_KEY = Pattern.compile("^\\s*`([a-z_]+)`");

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
        assertThat(missing)
                .as("meters registered by the apps but not listed in docs/metrics.md")
                .isEmpty();
    }

    @Test
    void everyCataloguedGpuMetricIsRegisteredByTheApps() {
        Set<String> inCode = appMeters().keySet();
        Set<String> unknown = new TreeSet<>(cataloguedGpuBases());

        unknown.removeAll(inCode);

        assertThat(unknown)
                .as("gpu_* metrics in docs/metrics.md that no app registers")
                .isEmpty();
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
    void theCatalogueMarksNoMetricAsMissingOrPlanned() {
        String doc = OpsFiles.read("docs/metrics.md");

        assertThat(doc)
                .doesNotContainPattern("(?i)missing in the apps|not exported by the apps|\\bplanned\\b")
                .contains("from start");
    }

    @Test
    void everyTagTheCatalogueGivesAGpuMetricIsATagNameInItsAppsCode() {
        Map<String, String> missing = new TreeMap<>();

        for (String line : OpsFiles.read("docs/metrics.md").split("\n")) {
            Matcher row = TAGGED_ROW.matcher(line);
            if (!row.matches()) {
                continue;
            }
            String name = row.group(1);
            String module = name.startsWith("gpu_gateway_") ? "api-gateway" : "gpu-worker";
            String code = moduleSource(module);
            for (String tag : tagKeys(row.group(2))) {
                if (!code.contains("\"" + tag + "\"")) {
                    missing.put(name + " " + tag, module);
                }
            }
        }

        assertThat(tagKeys("`outcome` = `a` \\| `b`; `code` = an `ErrorCode`, `none` otherwise; `pool`"))
                .containsExactly("outcome", "code", "pool");
        assertThat(tagKeys("–")).isEmpty();
        assertThat(missing)
                .as("metric + catalogued tag -> app whose code never names that tag")
                .isEmpty();
    }

    /** The tag keys of a catalogue "Tags" cell ("`key` = values; `key2`", or "–"), read up to the next cell. */
    static List<String> tagKeys(String cellsFromTags) {
        String cell = cellsFromTags.split("(?<!\\\\)\\|")[0].trim();
        List<String> keys = new ArrayList<>();
        if (cell.equals("–") || cell.equals("-") || cell.isEmpty()) {
            return keys;
        }
        for (String part : cell.split(";")) {
            Matcher m = TAG_KEY.matcher(part);
            if (!m.find()) {
                throw new AssertionError("catalogue tag cell not readable: " + cell);
            }
            keys.add(m.group(1));
        }
        return keys;
    }

    private static String moduleSource(String module) {
        StringBuilder all = new StringBuilder();
        try (Stream<Path> files = Files.walk(OpsFiles.path(module + "/src/main/java"))) {
            files.filter(f -> f.toString().endsWith(".java")).forEach(f -> all.append(readQuietly(f)));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return all.toString();
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
