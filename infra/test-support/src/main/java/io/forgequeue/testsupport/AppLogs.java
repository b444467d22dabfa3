package io.forgequeue.testsupport;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The log files of the apps a test runs, so that a failing test can show what they said
 * ({@link AppLogsOnFailure}) while the console stays free of their output. Two kinds:
 * <ul>
 *   <li>this test JVM's own log: what apps started inside the JVM (Spring Boot contexts) and the libraries log
 *   through SLF4J. The module's {@code logback-test.xml} includes
 *   {@code io/forgequeue/testsupport/logback-test-file.xml}, which writes it to {@link #testJvmLog()};</li>
 *   <li>the output of app processes (gateways, workers, forge-sims) a test starts: their starter writes it to a file
 *   ({@link #file(String)} is a place for it) and {@link #register registers} it.</li>
 * </ul>
 * Files are appended to, never truncated, so a test reads only what was written after its start. Thread-safe.
 */
public final class AppLogs {

    /** System property naming this JVM's own log file (the root pom sets one per Surefire/Failsafe run). */
    public static final String TEST_LOG_PROPERTY = "forgequeue.test.log";

    /** Where this JVM's own log goes when the property is not set (e.g. a test started from an IDE). */
    static final String DEFAULT_TEST_LOG = "target/test-logs/tests.log";

    /** At most this much of a log's new part is read for its tail. */
    private static final long MAX_TAIL_BYTES = 512 * 1024;

    private static final Map<Path, String> REGISTERED = new LinkedHashMap<>();

    private AppLogs() {}

    /** This JVM's own log file (absolute). */
    public static Path testJvmLog() {
        return Path.of(System.getProperty(TEST_LOG_PROPERTY, DEFAULT_TEST_LOG))
                .toAbsolutePath()
                .normalize();
    }

    /**
     * A file for the output of the app process {@code name}, next to this JVM's own log (its directory is created).
     */
    public static Path file(String name) {
        Path dir = testJvmLog().getParent();
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + dir, e);
        }
        return dir.resolve(name + ".log");
    }

    /** Registers the log file of an app process under a name; a failing test shows what it wrote meanwhile. */
    public static Path register(String name, Path log) {
        Path file = log.toAbsolutePath().normalize();
        synchronized (REGISTERED) {
            REGISTERED.put(file, name);
        }
        return file;
    }

    /** The current length of every known log (this JVM's own first), to compare with later. */
    static Map<Path, Long> lengths() {
        Map<Path, Long> lengths = new LinkedHashMap<>();
        lengths.put(testJvmLog(), length(testJvmLog()));
        synchronized (REGISTERED) {
            for (Path file : REGISTERED.keySet()) {
                lengths.put(file, length(file));
            }
        }
        return lengths;
    }

    /**
     * What every known log got since {@code before} (from {@link #lengths()}; a log registered later counts from its
     * start): per log that grew, a header naming it and its file, then its last {@code maxLines} new lines. Empty
     * when no log grew.
     */
    static String tails(Map<Path, Long> before, int maxLines) {
        StringBuilder out = new StringBuilder();
        for (Map.Entry<Path, Long> now : lengths().entrySet()) {
            Path file = now.getKey();
            long from = before.getOrDefault(file, 0L);
            if (now.getValue() < from) {
                from = 0; // the file was replaced meanwhile: all of it is new
            }
            if (now.getValue() == from) {
                continue;
            }
            List<String> lines = newLines(file, from, now.getValue());
            List<String> tail = lines.subList(Math.max(0, lines.size() - maxLines), lines.size());
            out.append("---- ").append(nameOf(file)).append(": ").append(file);
            out.append(tail.size() < lines.size() ? " (its last " + tail.size() + " lines of this test)" : "")
                    .append('\n');
            tail.forEach(line -> out.append(line).append('\n'));
        }
        return out.toString();
    }

    private static String nameOf(Path file) {
        if (file.equals(testJvmLog())) {
            return "this test JVM";
        }
        synchronized (REGISTERED) {
            return REGISTERED.getOrDefault(file, file.getFileName().toString());
        }
    }

    private static long length(Path file) {
        try {
            return Files.isRegularFile(file) ? Files.size(file) : 0;
        } catch (IOException e) {
            return 0;
        }
    }

    private static List<String> newLines(Path file, long from, long to) {
        long start = Math.max(from, to - MAX_TAIL_BYTES);
        byte[] bytes = new byte[(int) (to - start)];
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "r")) {
            raf.seek(start);
            raf.readFully(bytes);
        } catch (IOException e) {
            return List.of("(could not read " + file + ": " + e + ")");
        }
        List<String> lines = new ArrayList<>(Arrays.asList(new String(bytes, StandardCharsets.UTF_8).split("\n", -1)));
        if (!lines.isEmpty() && lines.get(lines.size() - 1).isEmpty()) {
            lines.remove(lines.size() - 1);
        }
        if (start > from && !lines.isEmpty()) {
            lines.remove(0); // cut in the middle of a line
        }
        return lines;
    }
}
