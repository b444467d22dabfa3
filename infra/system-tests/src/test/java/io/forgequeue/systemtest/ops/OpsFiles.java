package io.forgequeue.systemtest.ops;

import io.forgequeue.testsupport.TestInfrastructure;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * Reading the operations files (Prometheus, Grafana, Kubernetes, the metric catalogue) and running promtool, for
 * the ops tests. Static helpers; the promtool lookup is done once per JVM.
 */
final class OpsFiles {

    /** PromQL words that look like metric names but are not. */
    private static final Set<String> PROMQL_KEYWORDS = Set.of(
            "and",
            "or",
            "unless",
            "bool",
            "offset",
            "by",
            "without",
            "on",
            "ignoring",
            "group_left",
            "group_right",
            "inf",
            "nan",
            "atan2",
            "start",
            "end");

    /** An identifier not followed by "(" (a function call) and not part of a number, a label or a duration. */
    private static final Pattern IDENTIFIER = Pattern.compile("(?<![\\w.:$])([a-zA-Z_:][a-zA-Z0-9_:]*+)(?!\\s*\\()");

    /** A catalogue row: the first cell is exactly one back-quoted metric name. */
    private static final Pattern CATALOGUE_ROW = Pattern.compile("^\\|\\s*`([a-zA-Z_:][a-zA-Z0-9_:]*)`\\s*\\|");

    /** Series a histogram, summary or timer family adds to its name. */
    private static final List<String> FAMILY_SUFFIXES = List.of("_bucket", "_count", "_sum", "_max");

    private static Path promtool;

    private OpsFiles() {}

    /** The repository root (see {@code TestInfrastructure.repositoryRoot()}). */
    static Path root() {
        return TestInfrastructure.repositoryRoot();
    }

    static Path path(String relative) {
        return root().resolve(relative);
    }

    static String read(String relative) {
        Path file = path(relative);
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    private static Yaml yaml() {
        return new Yaml(new SafeConstructor(new LoaderOptions()));
    }

    /** One YAML document as a map. */
    @SuppressWarnings("unchecked")
    static Map<String, Object> yamlFile(String relative) {
        Object doc = yaml().load(read(relative));
        if (!(doc instanceof Map)) {
            throw new AssertionError(relative + " is not a YAML mapping");
        }
        return (Map<String, Object>) doc;
    }

    /** Every non-empty document of a multi-document YAML file. */
    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> yamlDocuments(Path file) {
        List<Map<String, Object>> docs = new ArrayList<>();
        try {
            for (Object doc : yaml().loadAll(Files.readString(file, StandardCharsets.UTF_8))) {
                if (doc == null) {
                    continue;
                }
                if (!(doc instanceof Map)) {
                    throw new AssertionError(file + " holds a YAML document that is not a mapping: " + doc);
                }
                docs.add((Map<String, Object>) doc);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
        return docs;
    }

    // ---- navigating parsed YAML/JSON ----------------------------------------------------------------------------

    /** The value at a dotted path of map keys, or null. */
    @SuppressWarnings("unchecked")
    static Object at(Object node, String dottedPath) {
        Object current = node;
        for (String key : dottedPath.split("\\.")) {
            if (!(current instanceof Map)) {
                return null;
            }
            current = ((Map<String, Object>) current).get(key);
        }
        return current;
    }

    static String string(Object node, String dottedPath) {
        Object value = at(node, dottedPath);
        return value == null ? null : value.toString();
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> map(Object node, String dottedPath) {
        Object value = at(node, dottedPath);
        return value instanceof Map ? (Map<String, Object>) value : Map.of();
    }

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> list(Object node, String dottedPath) {
        Object value = at(node, dottedPath);
        if (!(value instanceof List)) {
            return List.of();
        }
        List<Map<String, Object>> out = new ArrayList<>();
        for (Object item : (List<Object>) value) {
            if (item instanceof Map) {
                out.add((Map<String, Object>) item);
            }
        }
        return out;
    }

    // ---- metric names ---------------------------------------------------------------------------------------------

    /**
     * The metric names a PromQL expression (or a Grafana query with {@code $variables}) selects: identifiers outside
     * strings, label matchers, ranges and grouping clauses that are neither functions nor keywords.
     */
    static Set<String> metricNames(String expr) {
        String s = expr;
        s = s.replaceAll("\"(?:[^\"\\\\]|\\\\.)*\"", "\"\"");
        s = s.replaceAll("'(?:[^'\\\\]|\\\\.)*'", "''");
        s = s.replaceAll("`[^`]*`", "``");
        s = s.replaceAll("\\{[^}]*}", " ");
        s = s.replaceAll("\\[[^\\]]*]", " ");
        s = s.replaceAll("(?i)\\b(by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\)", " ");
        s = s.replaceAll("\\$\\{[^}]*}|\\$\\w+", " ");
        Set<String> names = new LinkedHashSet<>();
        Matcher m = IDENTIFIER.matcher(s);
        while (m.find()) {
            String word = m.group(1);
            if (!PROMQL_KEYWORDS.contains(word.toLowerCase(Locale.ROOT))) {
                names.add(word);
            }
        }
        return names;
    }

    /** The Prometheus names listed in docs/metrics.md (the first cell of the catalogue tables). */
    static Set<String> catalogue() {
        Set<String> names = new LinkedHashSet<>();
        for (String line : read("docs/metrics.md").split("\n")) {
            Matcher m = CATALOGUE_ROW.matcher(line);
            if (m.find()) {
                names.add(m.group(1));
            }
        }
        if (names.size() < 20) {
            throw new AssertionError("docs/metrics.md lists only " + names.size() + " metrics: is the table format "
                    + "('| `name` | type | ...') still the same?");
        }
        return names;
    }

    /** Whether {@code name} is a catalogued metric or one of the series of a catalogued histogram/summary/timer. */
    static boolean isCatalogued(String name, Set<String> catalogue) {
        if (catalogue.contains(name)) {
            return true;
        }
        for (String suffix : FAMILY_SUFFIXES) {
            if (name.endsWith(suffix) && catalogue.contains(name.substring(0, name.length() - suffix.length()))) {
                return true;
            }
        }
        return false;
    }

    // ---- Spring configuration -------------------------------------------------------------------------------------

    /** Flattened keys of an application.yml ("worker.forge.call-timeout" -> its value). */
    static Map<String, Object> flatten(Map<String, Object> yaml) {
        Map<String, Object> out = new LinkedHashMap<>();
        flatten("", yaml, out);
        return out;
    }

    @SuppressWarnings("unchecked")
    private static void flatten(String prefix, Map<String, Object> node, Map<String, Object> out) {
        for (Map.Entry<String, Object> e : node.entrySet()) {
            String key = prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey();
            if (e.getValue() instanceof Map) {
                flatten(key, (Map<String, Object>) e.getValue(), out);
            } else {
                out.put(key, e.getValue());
            }
        }
    }

    /**
     * The environment variable names Spring Boot binds to a property: the canonical form (dots to underscores,
     * dashes removed, upper case) and the legacy form (dashes to underscores).
     */
    static Set<String> envNamesOf(String property) {
        String upper = property.toUpperCase(Locale.ROOT).replace('.', '_');
        return new LinkedHashSet<>(List.of(upper.replace("-", ""), upper.replace('-', '_')));
    }

    /** Names used as {@code ${NAME}} or {@code ${NAME:default}} placeholders in a file. */
    static Set<String> placeholders(String text) {
        Set<String> names = new LinkedHashSet<>();
        Matcher m = Pattern.compile("\\$\\{([A-Z][A-Z0-9_]*)(?::[^}]*)?}").matcher(text);
        while (m.find()) {
            names.add(m.group(1));
        }
        return names;
    }

    /** A Spring-style duration: "500ms", "30s", "5m", "2h", "1d", or ISO-8601 ("PT30S"). */
    static Duration duration(Object value) {
        String s = String.valueOf(value).trim();
        Matcher m = Pattern.compile("(\\d+)\\s*(ms|s|m|h|d)?").matcher(s);
        if (m.matches()) {
            long n = Long.parseLong(m.group(1));
            String unit = m.group(2) == null ? "ms" : m.group(2);
            return switch (unit) {
                case "ms" -> Duration.ofMillis(n);
                case "s" -> Duration.ofSeconds(n);
                case "m" -> Duration.ofMinutes(n);
                case "h" -> Duration.ofHours(n);
                default -> Duration.ofDays(n);
            };
        }
        return Duration.parse(s);
    }

    /** "${PORT:8080}" -> "8080"; a plain value as it is. */
    static String defaultOf(Object value) {
        Matcher m = Pattern.compile("\\$\\{[^:}]+:([^}]*)}").matcher(String.valueOf(value));
        return m.matches() ? m.group(1) : String.valueOf(value);
    }

    /** AmqpConfiguration.AFTER_GRACE of the worker: the time it needs after the grace to give a job back. */
    static Duration workerAfterGrace() {
        String source = read("gpu-worker/src/main/java/io/forgequeue/worker/system/AmqpConfiguration.java");
        Matcher m = Pattern.compile("AFTER_GRACE\\s*=\\s*Duration\\.ofSeconds\\((\\d+)\\)")
                .matcher(source);
        if (!m.find()) {
            throw new AssertionError("AmqpConfiguration.AFTER_GRACE is no longer 'Duration.ofSeconds(n)': update "
                    + "OpsFiles.workerAfterGrace");
        }
        return Duration.ofSeconds(Long.parseLong(m.group(1)));
    }

    // ---- promtool -----------------------------------------------------------------------------------------------

    /** Output and exit code of a finished command. */
    record Result(int exitCode, String output) {}

    /** Runs a command in a directory, with a time limit; stdout and stderr together. */
    static Result run(Path dir, Duration timeout, String... command) {
        ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true);
        try {
            Process process = pb.start();
            process.getOutputStream().close();
            StringBuilder out = new StringBuilder();
            Thread reader = new Thread(() -> {
                try {
                    out.append(new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
                } catch (IOException e) {
                    out.append("\n(reading the output failed: ").append(e).append(')');
                }
            });
            reader.start();
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                reader.join(5_000);
                throw new AssertionError(
                        String.join(" ", command) + " did not finish within " + timeout + "; output so far:\n" + out);
            }
            reader.join(10_000);
            return new Result(process.exitValue(), out.toString());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + String.join(" ", command), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running " + String.join(" ", command), e);
        }
    }

    /**
     * The promtool binary: /usr/bin/promtool or on the PATH; if there is none, Debian's prometheus package is
     * installed with {@code bash infra/local/prometheus.sh install} (needs root and apt-get). Fails with a message
     * that says what to do when that is not possible.
     */
    static synchronized Path promtool() {
        if (promtool != null) {
            return promtool;
        }
        Path found = findPromtool();
        if (found == null) {
            Result install = run(root(), Duration.ofMinutes(15), "bash", "infra/local/prometheus.sh", "install");
            found = findPromtool();
            if (found == null) {
                throw new AssertionError("promtool is not installed, and 'bash infra/local/prometheus.sh install' "
                        + "could not install it (exit " + install.exitCode() + "). Install Debian's prometheus "
                        + "package (apt-get install prometheus, as root) or put promtool on the PATH. Output:\n"
                        + install.output());
            }
        }
        promtool = found;
        return promtool;
    }

    private static Path findPromtool() {
        Path debian = Path.of("/usr/bin/promtool");
        if (Files.isExecutable(debian)) {
            return debian;
        }
        String pathEnv = System.getenv("PATH");
        if (pathEnv != null) {
            for (String dir : pathEnv.split(java.io.File.pathSeparator)) {
                Path candidate = Path.of(dir, "promtool");
                if (Files.isExecutable(candidate)) {
                    return candidate;
                }
            }
        }
        return null;
    }

    /** Runs promtool with the arguments in {@code dir}; the result (exit code and output). */
    static Result promtool(Path dir, String... args) {
        String[] command = new String[args.length + 1];
        command[0] = promtool().toString();
        System.arraycopy(args, 0, command, 1, args.length);
        return run(dir, Duration.ofMinutes(2), command);
    }
}
