package io.forgequeue.bench;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * CPU time and memory of processes, from Linux's {@code /proc}: how much of the machine each part of the system
 * used during a measurement. CPU is counted in clock ticks (USER_HZ = 100 on Linux).
 */
final class ProcStats {

    static final double TICKS_PER_SECOND = 100.0;

    private ProcStats() {}

    /** User + system CPU ticks of one process (its threads included), 0 when it is gone. */
    static long cpuTicks(long pid) {
        if (pid <= 0) {
            return 0;
        }
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            // the command name (field 2) may contain spaces: fields are counted after its closing parenthesis
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Long.parseLong(f[11]) + Long.parseLong(f[12]);
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    /**
     * CPU ticks of the JVM's just-in-time compiler threads (named "C1 CompilerThre..", "C2 CompilerThre.." in
     * {@code /proc/<pid>/task/<tid>/comm}); 0 when the process is gone.
     */
    static long jitTicks(long pid) {
        return threadTicks(pid, name -> name.startsWith("C1 CompilerThre") || name.startsWith("C2 CompilerThre"));
    }

    /** CPU ticks of the threads of {@code pid} whose name matches. */
    static long threadTicks(long pid, java.util.function.Predicate<String> name) {
        long total = 0;
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc", Long.toString(pid), "task"))) {
            for (Path task : tasks) {
                try {
                    if (name.test(Files.readString(task.resolve("comm")).strip())) {
                        String stat = Files.readString(task.resolve("stat"));
                        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                        total += Long.parseLong(f[11]) + Long.parseLong(f[12]);
                    }
                } catch (IOException | RuntimeException e) {
                    // the thread ended meanwhile
                }
            }
        } catch (IOException e) {
            return 0;
        }
        return total;
    }

    /** CPU ticks of a process and its direct children (PostgreSQL: the postmaster and its backends). */
    static long cpuTicksWithChildren(long pid) {
        long total = cpuTicks(pid);
        for (long child : children(pid)) {
            total += cpuTicks(child);
        }
        return total;
    }

    /** Resident memory in bytes (VmRSS), 0 when the process is gone. */
    static long rssBytes(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return 0;
        }
        return 0;
    }

    static List<Long> children(long pid) {
        List<Long> out = new ArrayList<>();
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
            for (Path dir : dirs) {
                try {
                    String stat = Files.readString(dir.resolve("stat"));
                    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                    if (Long.parseLong(f[1]) == pid) {
                        out.add(Long.parseLong(dir.getFileName().toString()));
                    }
                } catch (IOException | RuntimeException e) {
                    // the process ended meanwhile
                }
            }
        } catch (IOException e) {
            return out;
        }
        return out;
    }

    /** The machine's 1-minute load average. */
    static double loadAverage() {
        try {
            return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** Total CPU ticks of the whole machine (all cores, busy only: user+nice+system+irq+softirq+steal). */
    static long machineBusyTicks() {
        try {
            String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
            return Long.parseLong(f[1])
                    + Long.parseLong(f[2])
                    + Long.parseLong(f[3])
                    + Long.parseLong(f[6])
                    + Long.parseLong(f[7])
                    + Long.parseLong(f[8]);
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    /**
     * A CPU meter over named groups of processes: {@link #start()} then {@link #stop()} gives each group's CPU use
     * in percent of one core over the interval (200 % = both cores of this machine).
     */
    static final class CpuMeter {

        private final Map<String, java.util.function.LongSupplier> groups = new LinkedHashMap<>();
        /** Groups that are part of another group (e.g. the JIT threads of an app): not added to the total. */
        private final java.util.Set<String> nested = new java.util.HashSet<>();

        private final Map<String, Long> startTicks = new LinkedHashMap<>();
        private long startNanos;
        private long startMachine;

        CpuMeter add(String group, java.util.function.LongSupplier ticks) {
            groups.put(group, ticks);
            return this;
        }

        /** A group that is a part of one added before (its CPU is already in that group's). */
        CpuMeter addPart(String group, java.util.function.LongSupplier ticks) {
            nested.add(group);
            return add(group, ticks);
        }

        CpuMeter start() {
            startNanos = System.nanoTime();
            startMachine = machineBusyTicks();
            groups.forEach((name, ticks) -> startTicks.put(name, ticks.getAsLong()));
            return this;
        }

        /**
         * Percent of one core per group, plus "machine" (everything running on the machine) and "otherProcesses"
         * (the machine minus the groups: other users' work, which disturbs the measurement).
         */
        Map<String, Double> stop() {
            double seconds = (System.nanoTime() - startNanos) / 1e9;
            Map<String, Double> out = new LinkedHashMap<>();
            groups.forEach((name, ticks) -> out.put(
                    name, round1((ticks.getAsLong() - startTicks.get(name)) / TICKS_PER_SECOND / seconds * 100)));
            double mine = out.entrySet().stream()
                    .filter(e -> !nested.contains(e.getKey()))
                    .mapToDouble(Map.Entry::getValue)
                    .sum();
            double machine = round1((machineBusyTicks() - startMachine) / TICKS_PER_SECOND / seconds * 100);
            out.put("machine", machine);
            out.put("otherProcesses", round1(Math.max(0, machine - mine)));
            return out;
        }
    }

    static double round1(double v) {
        return Math.round(v * 10) / 10.0;
    }
}
