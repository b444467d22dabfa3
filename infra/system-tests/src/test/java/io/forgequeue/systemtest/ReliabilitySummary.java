package io.forgequeue.systemtest;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestWatcher;

/**
 * Collects one line per {@link Scenario} (its figures, recorded by the test with {@link #record}, and whether it
 * passed) and prints them when the whole test run of this JVM ends, followed by exactly one line
 * {@code N passed, N failed}. The same text goes to {@code target/reliability-summary.txt}. Register it on every
 * class of the suite with {@code @ExtendWith(ReliabilitySummary.class)}.
 */
final class ReliabilitySummary implements BeforeAllCallback, BeforeEachCallback, TestWatcher {

    private static final Map<Integer, Line> LINES = new TreeMap<>();
    private static final ThreadLocal<Line> CURRENT = new ThreadLocal<>();
    private static volatile Line lastStarted;

    /** One scenario's line. */
    private static final class Line {
        final int number;
        final String title;
        final long startedNanos = System.nanoTime();
        volatile String figures;
        volatile String details = "";
        volatile String outcome = "NOT RUN";
        volatile String failure;
        volatile double seconds;

        Line(int number, String title) {
            this.number = number;
            this.title = title;
        }
    }

    /** Records the figures of the scenario running on this thread (call before asserting). */
    static void record(String figures, String details) {
        Line line = CURRENT.get() != null ? CURRENT.get() : lastStarted;
        if (line != null) {
            line.figures = figures;
            line.details = details == null ? "" : details;
        }
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        context.getRoot()
                .getStore(ExtensionContext.Namespace.GLOBAL)
                .computeIfAbsent(Printer.class, k -> new Printer(), Printer.class);
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        Scenario s = context.getRequiredTestMethod().getAnnotation(Scenario.class);
        if (s == null) {
            return;
        }
        Line line = new Line(s.value(), s.title());
        synchronized (LINES) {
            LINES.put(s.value(), line);
        }
        CURRENT.set(line);
        lastStarted = line;
    }

    @Override
    public void testSuccessful(ExtensionContext context) {
        finish(context, "PASSED", null);
    }

    @Override
    public void testFailed(ExtensionContext context, Throwable cause) {
        finish(context, "FAILED", cause);
    }

    @Override
    public void testAborted(ExtensionContext context, Throwable cause) {
        finish(context, "FAILED", cause);
    }

    @Override
    public void testDisabled(ExtensionContext context, Optional<String> reason) {
        Scenario s = context.getRequiredTestMethod().getAnnotation(Scenario.class);
        if (s != null) {
            synchronized (LINES) {
                LINES.putIfAbsent(s.value(), new Line(s.value(), s.title()));
            }
        }
    }

    private static void finish(ExtensionContext context, String outcome, Throwable cause) {
        Scenario s = context.getRequiredTestMethod().getAnnotation(Scenario.class);
        if (s == null) {
            return;
        }
        Line line;
        synchronized (LINES) {
            line = LINES.computeIfAbsent(s.value(), k -> new Line(s.value(), s.title()));
        }
        line.outcome = outcome;
        line.seconds = (System.nanoTime() - line.startedNanos) / 1e9;
        if (cause != null) {
            String m = String.valueOf(cause.getMessage());
            String first = m.lines()
                    .filter(x -> x.startsWith("  - "))
                    .findFirst()
                    .orElse(m.lines().findFirst().orElse(""));
            line.failure = cause.getClass().getSimpleName() + ": "
                    + (first.length() > 200 ? first.substring(0, 200) + "..." : first.strip());
        }
        CURRENT.remove();
    }

    /** The summary text: one line per scenario, then "N passed, N failed". */
    static String text() {
        List<String> out = new ArrayList<>();
        int passed = 0;
        int failed = 0;
        out.add("==== Forge Queue reliability and security suite (" + FaultProfile.name() + " profile) ====");
        synchronized (LINES) {
            for (Line l : LINES.values()) {
                if (l.outcome.equals("PASSED")) {
                    passed++;
                } else {
                    failed++;
                }
                StringBuilder sb = new StringBuilder(String.format(
                        "%2d %-44s | %s | %s %5.1f s",
                        l.number, l.title, l.figures == null ? "no figures" : l.figures, l.outcome, l.seconds));
                if (!l.details.isEmpty()) {
                    sb.append(" | ").append(l.details);
                }
                if (l.failure != null) {
                    sb.append(" | ").append(l.failure);
                }
                out.add(sb.toString());
            }
        }
        out.add(passed + " passed, " + failed + " failed");
        return String.join(System.lineSeparator(), out);
    }

    /** Prints the summary when the root context (the whole run) closes. */
    private static final class Printer implements AutoCloseable {
        @Override
        public void close() {
            String text = text();
            System.out.println();
            System.out.println(text);
            System.out.flush();
            try {
                Files.writeString(
                        SystemPaths.root().resolve("infra/system-tests/target/reliability-summary.txt"),
                        text + System.lineSeparator(),
                        StandardCharsets.UTF_8);
            } catch (IOException | RuntimeException e) {
                System.err.println("could not write reliability-summary.txt: " + e);
            }
        }
    }
}
