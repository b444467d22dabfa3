package io.forgequeue.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What one scenario measured on one set of jars: headline figures for the table, and every detail for the file. A
 * scenario that compares settings of one build (the fairness scenario's scheduler policies) names its setting as the
 * {@code variant}; the report shows such figures side by side, one column per variant.
 */
final class ScenarioResult {

    private final String scenario;
    private final String jars;
    private final String variant;
    private final List<Figure> figures = new ArrayList<>();
    private final Map<String, Object> details = new LinkedHashMap<>();
    private final List<String> notes = new ArrayList<>();

    ScenarioResult(String scenario, String jars) {
        this(scenario, jars, null);
    }

    ScenarioResult(String scenario, String jars, String variant) {
        this.scenario = scenario;
        this.jars = jars;
        this.variant = variant;
    }

    /** The setting this result measured, or null for a scenario without variants. */
    String variant() {
        return variant;
    }

    String scenario() {
        return scenario;
    }

    String jars() {
        return jars;
    }

    ScenarioResult figure(Figure f) {
        figures.add(f);
        return this;
    }

    ScenarioResult detail(String key, Object value) {
        details.put(key, value);
        return this;
    }

    ScenarioResult note(String text) {
        notes.add(text);
        return this;
    }

    List<Figure> figures() {
        return figures;
    }

    Map<String, Object> details() {
        return details;
    }

    List<String> notes() {
        return notes;
    }

    Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("scenario", scenario);
        m.put("jars", jars);
        if (variant != null) {
            m.put("variant", variant);
        }
        List<Map<String, Object>> fs = new ArrayList<>();
        for (Figure f : figures) {
            Map<String, Object> fm = new LinkedHashMap<>();
            fm.put("name", f.name());
            fm.put("value", Double.isNaN(f.value()) ? null : f.value());
            fm.put("unit", f.unit());
            fm.put("goal", f.goal());
            fm.put("met", f.met());
            fs.add(fm);
        }
        m.put("figures", fs);
        m.put("details", details);
        m.put("notes", notes);
        return m;
    }
}
