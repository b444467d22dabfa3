package io.forgequeue.bench;

/**
 * One headline number of a scenario, as it appears in the results table.
 *
 * @param scenario the scenario (e.g. "duty")
 * @param name     what was measured, e.g. "busy share (backlog)"
 * @param value    the figure
 * @param unit     "%", "ms", "jobs/s", ...
 * @param goal     the goal as text ("≥ 99.5"), or null when there is none
 * @param met      whether the goal was met, null when there is no goal
 */
record Figure(String scenario, String name, double value, String unit, String goal, Boolean met) {

    static Figure of(String scenario, String name, double value, String unit) {
        return new Figure(scenario, name, value, unit, null, null);
    }

    static Figure atLeast(String scenario, String name, double value, String unit, double goal) {
        return new Figure(scenario, name, value, unit, "≥ " + trim(goal), value >= goal);
    }

    static Figure atMost(String scenario, String name, double value, String unit, double goal) {
        return new Figure(scenario, name, value, unit, "≤ " + trim(goal), value <= goal);
    }

    static Figure below(String scenario, String name, double value, String unit, double goal) {
        return new Figure(scenario, name, value, unit, "< " + trim(goal), value < goal);
    }

    static Figure above(String scenario, String name, double value, String unit, double goal) {
        return new Figure(scenario, name, value, unit, "> " + trim(goal), value > goal);
    }

    String key() {
        return scenario + " / " + name;
    }

    static String trim(double v) {
        if (Double.isNaN(v)) {
            return "n/a";
        }
        if (v == Math.rint(v) && Math.abs(v) < 1e12) {
            return Long.toString((long) v);
        }
        double abs = Math.abs(v);
        return abs >= 100
                ? String.format(java.util.Locale.ROOT, "%.1f", v)
                : abs >= 1
                        ? String.format(java.util.Locale.ROOT, "%.2f", v)
                        : String.format(java.util.Locale.ROOT, "%.3f", v);
    }
}
