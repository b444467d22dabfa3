package io.forgequeue.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The results: a table on the console, {@code results.json} (everything) and {@code summary.md} (the tables). */
final class Report {

    private final Map<String, Object> machine;
    private final BenchOptions options;
    private final List<ScenarioResult> results = new ArrayList<>();
    private final String started;

    Report(Map<String, Object> machine, BenchOptions options, String started) {
        this.machine = machine;
        this.options = options;
        this.started = started;
    }

    synchronized void add(ScenarioResult r) {
        results.add(r);
    }

    /**
     * One row per figure: current value, and baseline value and ratio when a baseline ran. A figure measured in
     * several rounds shows its median (rounds alternate the builds, so both meet the same machine conditions).
     */
    List<Row> rows() {
        Map<String, Row> rows = new LinkedHashMap<>();
        for (ScenarioResult r : results) {
            if (r.variant() != null) {
                continue;
            }
            for (Figure f : r.figures()) {
                Row row = rows.computeIfAbsent(f.key(), k -> new Row(f.scenario(), f.name(), f.unit(), f.goal()));
                (r.jars().equals("baseline") ? row.baselineValues : row.currentValues).add(f.value());
            }
        }
        for (Row row : rows.values()) {
            row.current = median(row.currentValues);
            row.baseline = median(row.baselineValues);
            row.met = row.current == null || row.goal == null ? null : meets(row.current, row.goal);
        }
        return new ArrayList<>(rows.values());
    }

    static Double median(List<Double> values) {
        List<Double> v =
                values.stream().filter(d -> d != null && !d.isNaN()).sorted().toList();
        if (v.isEmpty()) {
            return values.isEmpty() ? null : Double.NaN;
        }
        int n = v.size();
        return n % 2 == 1 ? v.get(n / 2) : (v.get(n / 2 - 1) + v.get(n / 2)) / 2;
    }

    /** Whether {@code value} meets a goal written as "≥ x", "≤ x", "> x" or "< x". */
    static Boolean meets(double value, String goal) {
        if (Double.isNaN(value)) {
            return null;
        }
        double x = Double.parseDouble(goal.substring(2).strip());
        return goal.startsWith("≥")
                ? value >= x
                : goal.startsWith("≤") ? value <= x : goal.startsWith(">") ? value > x : value < x;
    }

    static final class Row {
        final String scenario;
        final String name;
        final String unit;
        final String goal;
        final List<Double> currentValues = new ArrayList<>();
        final List<Double> baselineValues = new ArrayList<>();
        Double current;
        Double baseline;
        Boolean met;

        Row(String scenario, String name, String unit, String goal) {
            this.scenario = scenario;
            this.name = name;
            this.unit = unit;
            this.goal = goal;
        }

        String ratio() {
            if (current == null
                    || baseline == null
                    || baseline == 0
                    || Double.isNaN(current)
                    || Double.isNaN(baseline)) {
                return "";
            }
            return String.format(Locale.ROOT, "%.2f×", current / baseline);
        }
    }

    /**
     * The figures of scenarios that compare settings of one build (e.g. the fairness scenario's policies): one row
     * per figure, one value per variant (the median of its rounds), in the order the variants first ran. A goal
     * belongs to the variant whose figure carries it (e.g. Jain's index of {@code fair}) and is judged on it.
     */
    List<VariantRow> variantRows() {
        Map<String, VariantRow> rows = new LinkedHashMap<>();
        for (ScenarioResult r : results) {
            if (r.variant() == null) {
                continue;
            }
            for (Figure f : r.figures()) {
                VariantRow row = rows.computeIfAbsent(f.key(), k -> new VariantRow(f.scenario(), f.name(), f.unit()));
                row.values.computeIfAbsent(r.variant(), v -> new ArrayList<>()).add(f.value());
                if (f.goal() != null && row.goal == null) {
                    row.goal = f.goal();
                    row.goalVariant = r.variant();
                }
            }
        }
        for (VariantRow row : rows.values()) {
            row.values.forEach((variant, values) -> row.medians.put(variant, median(values)));
            Double judged = row.goalVariant == null ? null : row.medians.get(row.goalVariant);
            row.met = judged == null || row.goal == null ? null : meets(judged, row.goal);
        }
        return new ArrayList<>(rows.values());
    }

    /** The variants of {@link #variantRows()}, in the order they first ran. */
    List<String> variants() {
        List<String> out = new ArrayList<>();
        for (ScenarioResult r : results) {
            if (r.variant() != null && !out.contains(r.variant())) {
                out.add(r.variant());
            }
        }
        return out;
    }

    static final class VariantRow {
        final String scenario;
        final String name;
        final String unit;
        final Map<String, List<Double>> values = new LinkedHashMap<>();
        final Map<String, Double> medians = new LinkedHashMap<>();
        String goal;
        String goalVariant;
        Boolean met;

        VariantRow(String scenario, String name, String unit) {
            this.scenario = scenario;
            this.name = name;
            this.unit = unit;
        }

        String goalText() {
            return goal == null ? "" : goal + (unit.isEmpty() ? "" : " " + unit) + " (" + goalVariant + ")";
        }
    }

    /** The side-by-side table of {@link #variantRows()} in Markdown, or "" when no scenario has variants. */
    String variantMarkdownTable() {
        List<VariantRow> rows = variantRows();
        if (rows.isEmpty()) {
            return "";
        }
        List<String> variants = variants();
        StringBuilder sb = new StringBuilder("| Scenario | Figure | ");
        variants.forEach(v -> sb.append(v).append(" | "));
        sb.append("Goal | Met |\n|---|---|");
        variants.forEach(v -> sb.append("---:|"));
        sb.append("---|---|\n");
        for (VariantRow row : rows) {
            sb.append("| ").append(row.scenario).append(" | ").append(row.name).append(" | ");
            variants.forEach(v -> sb.append(value(row.medians.get(v), row.unit)).append(" | "));
            sb.append(row.goalText())
                    .append(" | ")
                    .append(row.met == null ? "" : row.met ? "yes" : "**no**")
                    .append(" |\n");
        }
        return sb.toString();
    }

    /** The side-by-side table of {@link #variantRows()} for the console, or "" when no scenario has variants. */
    String variantConsoleTable() {
        List<VariantRow> rows = variantRows();
        if (rows.isEmpty()) {
            return "";
        }
        List<String> variants = variants();
        List<String[]> lines = new ArrayList<>();
        List<String> head = new ArrayList<>(List.of("scenario", "figure"));
        head.addAll(variants);
        head.addAll(List.of("goal", "met"));
        lines.add(head.toArray(String[]::new));
        for (VariantRow row : rows) {
            List<String> l = new ArrayList<>(List.of(row.scenario, row.name));
            variants.forEach(v -> l.add(value(row.medians.get(v), row.unit)));
            l.add(row.goalText());
            l.add(row.met == null ? "" : row.met ? "yes" : "NO");
            lines.add(l.toArray(String[]::new));
        }
        return columns(lines);
    }

    /**
     * The pipeline's throughput next to the broker's own hand-out ceiling with as many prefetch-1 consumers as the
     * pipeline had workers (measured by PerfTest in the same run), one line per throughput result.
     */
    @SuppressWarnings("unchecked")
    List<String> ceilingShares() {
        Map<String, Object> handOut = null;
        for (ScenarioResult r : results) {
            if (r.scenario().equals("ceiling")) {
                handOut = (Map<String, Object>) r.details().get("handOutMessagesPerSecond");
            }
        }
        List<String> lines = new ArrayList<>();
        if (handOut == null) {
            return lines;
        }
        for (ScenarioResult r : results) {
            if (!r.scenario().equals("throughput")) {
                continue;
            }
            int workers = (Integer) r.details().get("workers");
            double rate = (Double) r.details().get("jobsPerSecond");
            Object backlog = handOut.get(workers + " consumer(s), from a backlog");
            Object live = handOut.get(workers + " consumer(s), while publishing");
            StringBuilder sb = new StringBuilder(
                    String.format(Locale.ROOT, "%s, %d worker(s): %.1f jobs/s", r.jars(), workers, rate));
            if (backlog instanceof Number b) {
                sb.append(String.format(
                        Locale.ROOT,
                        " = %.0f %% of the broker's hand-out from a backlog (%d msg/s)",
                        rate / b.doubleValue() * 100,
                        b.longValue()));
            }
            if (live instanceof Number l) {
                sb.append(String.format(
                        Locale.ROOT,
                        ", %.0f %% of its hand-out while publishing (%d msg/s)",
                        rate / l.doubleValue() * 100,
                        l.longValue()));
            }
            lines.add(sb.toString());
        }
        return lines;
    }

    boolean hasBaseline() {
        return results.stream().anyMatch(r -> r.jars().equals("baseline"));
    }

    String markdownTable() {
        boolean base = hasBaseline();
        StringBuilder sb = new StringBuilder();
        sb.append(
                base
                        ? "| Scenario | Figure | Baseline | Current | Current / baseline | Goal | Met |\n"
                                + "|---|---|---:|---:|---:|---|---|\n"
                        : "| Scenario | Figure | Value | Goal | Met |\n|---|---|---:|---|---|\n");
        for (Row row : rows()) {
            String met = row.met == null ? "" : row.met ? "yes" : "**no**";
            String goal = row.goal == null ? "" : row.goal + " " + row.unit;
            if (base) {
                sb.append(String.format(
                        Locale.ROOT,
                        "| %s | %s | %s | %s | %s | %s | %s |%n",
                        row.scenario,
                        row.name,
                        value(row.baseline, row.unit),
                        value(row.current, row.unit),
                        row.ratio(),
                        goal,
                        met));
            } else {
                sb.append(String.format(
                        Locale.ROOT,
                        "| %s | %s | %s | %s | %s |%n",
                        row.scenario,
                        row.name,
                        value(row.current, row.unit),
                        goal,
                        met));
            }
        }
        return sb.toString();
    }

    String consoleTable() {
        boolean base = hasBaseline();
        List<String[]> lines = new ArrayList<>();
        lines.add(
                base
                        ? new String[] {"scenario", "figure", "baseline", "current", "ratio", "goal", "met"}
                        : new String[] {"scenario", "figure", "value", "goal", "met"});
        for (Row row : rows()) {
            String met = row.met == null ? "" : row.met ? "yes" : "NO";
            String goal = row.goal == null ? "" : row.goal + " " + row.unit;
            lines.add(
                    base
                            ? new String[] {
                                row.scenario,
                                row.name,
                                value(row.baseline, row.unit),
                                value(row.current, row.unit),
                                row.ratio(),
                                goal,
                                met
                            }
                            : new String[] {row.scenario, row.name, value(row.current, row.unit), goal, met});
        }
        return columns(lines);
    }

    /** Aligned columns: text left, numbers (all but the first two and the last two columns) right. */
    private static String columns(List<String[]> lines) {
        int[] width = new int[lines.get(0).length];
        for (String[] l : lines) {
            for (int i = 0; i < l.length; i++) {
                width[i] = Math.max(width[i], l[i].length());
            }
        }
        StringBuilder sb = new StringBuilder();
        for (String[] l : lines) {
            for (int i = 0; i < l.length; i++) {
                boolean number = i >= 2 && i < l.length - 2;
                String cell = number
                        ? " ".repeat(width[i] - l[i].length()) + l[i]
                        : l[i] + " ".repeat(width[i] - l[i].length());
                sb.append(cell).append(i == l.length - 1 ? "\n" : "  ");
            }
        }
        return sb.toString();
    }

    static String value(Double v, String unit) {
        if (v == null || Double.isNaN(v)) {
            return "–";
        }
        return unit.isEmpty() ? Figure.trim(v) : Figure.trim(v) + " " + unit;
    }

    void write(Path dir, String command, String finished, double loadAtEnd) {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("command", command);
        json.put("started", started);
        json.put("finished", finished);
        Map<String, Object> m = new LinkedHashMap<>(machine);
        m.put("loadAverageAtEnd", loadAtEnd);
        json.put("machine", m);
        json.put("options", options.describe());
        List<Map<String, Object>> table = new ArrayList<>();
        for (Row row : rows()) {
            Map<String, Object> t = new LinkedHashMap<>();
            t.put("scenario", row.scenario);
            t.put("figure", row.name);
            t.put("unit", row.unit);
            t.put("current", nan(row.current));
            t.put("baseline", nan(row.baseline));
            t.put("currentRounds", row.currentValues);
            t.put("baselineRounds", row.baselineValues);
            t.put("goal", row.goal);
            t.put("met", row.met);
            table.add(t);
        }
        json.put("table", table);
        List<Map<String, Object>> sideBySide = new ArrayList<>();
        for (VariantRow row : variantRows()) {
            Map<String, Object> t = new LinkedHashMap<>();
            t.put("scenario", row.scenario);
            t.put("figure", row.name);
            t.put("unit", row.unit);
            Map<String, Object> medians = new LinkedHashMap<>();
            row.medians.forEach((v, median) -> medians.put(v, nan(median)));
            t.put("values", medians);
            t.put("rounds", row.values);
            t.put("goal", row.goal);
            t.put("goalVariant", row.goalVariant);
            t.put("met", row.met);
            sideBySide.add(t);
        }
        json.put("sideBySide", sideBySide);
        json.put("shareOfBrokerCeiling", ceilingShares());
        json.put("results", results.stream().map(ScenarioResult::toMap).toList());
        StringBuilder md = new StringBuilder("# Forge Queue benchmark\n\n");
        md.append("Command: `").append(command).append("`  \n");
        md.append("Run: ").append(started).append(" → ").append(finished).append("  \n");
        md.append("Machine: ")
                .append(machine.get("cpu"))
                .append(", ")
                .append(machine.get("cores"))
                .append(" cores, ")
                .append(machine.get("memoryGb"))
                .append(" GB; ")
                .append(machine.get("java"))
                .append("; RabbitMQ ")
                .append(machine.get("rabbitmq"))
                .append("; ")
                .append(machine.get("postgres"))
                .append("  \n");
        md.append("Load average (1 min): ")
                .append(machine.get("loadAverageAtStart"))
                .append(" at start, ")
                .append(loadAtEnd)
                .append(" at end.  \n");
        md.append("Jars: ").append(machine.get("jars")).append("\n\n");
        if (!rows().isEmpty()) {
            md.append(markdownTable()).append('\n');
        }
        String variantTable = variantMarkdownTable();
        if (!variantTable.isEmpty()) {
            md.append("Settings of the current build side by side (")
                    .append(String.join(" | ", variants()))
                    .append("):\n\n")
                    .append(variantTable)
                    .append('\n');
        }
        if (options.rounds() > 1) {
            md.append("Each figure is the median of ")
                    .append(options.rounds())
                    .append(" rounds; the builds alternate from round to round.\n\n");
        }
        for (String line : ceilingShares()) {
            md.append("- ").append(line).append('\n');
        }
        for (ScenarioResult r : results) {
            if (r.scenario().equals("throughput")) {
                md.append("- throughput (")
                        .append(r.jars())
                        .append(", ")
                        .append(r.details().get("workers"))
                        .append(" workers): saturated stage: ")
                        .append(r.details().get("saturatedStage"))
                        .append("; CPU % of one core: ")
                        .append(r.details().get("cpuPercentOfOneCore"))
                        .append('\n');
            }
            for (String note : r.notes()) {
                md.append("- ")
                        .append(r.scenario())
                        .append(" (")
                        .append(label(r))
                        .append("): ")
                        .append(note)
                        .append('\n');
            }
        }
        md.append("\nLoad average (1 min) before → after each scenario: ");
        List<String> loads = new ArrayList<>();
        for (ScenarioResult r : results) {
            if (r.details().get("loadAverage1m") instanceof Map<?, ?> l) {
                loads.add(r.scenario() + " (" + label(r) + ") " + l.get("before") + " → " + l.get("after"));
            }
        }
        md.append(String.join("; ", loads)).append(".\n");
        md.append(
                "\nEvery detail (percentiles, per-stage times, queue depths, CPU per process) is in `results.json`.\n");
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("results.json"), Json.MAPPER.writeValueAsString(sanitize(json)));
            Files.writeString(dir.resolve("summary.md"), md.toString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String label(ScenarioResult r) {
        return r.variant() == null ? r.jars() : r.jars() + ", " + r.variant();
    }

    private static Object nan(Double v) {
        return v == null || v.isNaN() ? null : v;
    }

    /** JSON has no NaN: such values become null. */
    @SuppressWarnings("unchecked")
    static Object sanitize(Object o) {
        if (o instanceof Double d && (d.isNaN() || d.isInfinite())) {
            return null;
        }
        if (o instanceof Map<?, ?> map) {
            Map<Object, Object> out = new LinkedHashMap<>();
            map.forEach((k, v) -> out.put(k, sanitize(v)));
            return out;
        }
        if (o instanceof List<?> list) {
            List<Object> out = new ArrayList<>();
            list.forEach(v -> out.add(sanitize(v)));
            return out;
        }
        return o;
    }
}
