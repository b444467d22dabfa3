package io.forgequeue.bench;

import io.forgequeue.testsupport.RabbitEndpoint;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The broker's own ceiling on the same node, with RabbitMQ PerfTest (a separate JVM): quorum queue, persistent
 * messages of a job message's size, consumers with prefetch 1 acking each message, as the workers do.
 * <ul>
 *   <li>hand-out from a backlog: the queue is filled first, then C consumers drain it for a fixed time
 *       (messages/s): the pure delivery/ack round trip;</li>
 *   <li>hand-out while publishing: one publisher (confirms, up to 64 unconfirmed) floods the queue while C consumers
 *       take from it, so publishing and delivering compete for the broker as in the pipeline;</li>
 *   <li>confirm round trip: one publisher with one unconfirmed message at a time (what a worker waits for its
 *       outcome event).</li>
 * </ul>
 */
final class CeilingScenario {

    static final Pattern RECEIVING = Pattern.compile("receiving rate avg: (\\d+) msg/s");
    static final Pattern SENDING = Pattern.compile("sending rate avg: (\\d+) msg/s");
    static final Pattern CONFIRM =
            Pattern.compile("confirm latency min/median/75th/95th/99th (\\d+)/(\\d+)/(\\d+)/(\\d+)/(\\d+) µs");
    private static final int MESSAGE_BYTES = 600;

    private CeilingScenario() {}

    static ScenarioResult run(BenchContext ctx) {
        BenchOptions o = ctx.options();
        ScenarioResult r = new ScenarioResult("ceiling", "broker");
        Map<String, Object> handOut = new LinkedHashMap<>();
        for (int consumers : o.perfTestConsumers()) {
            String vhost = "bench_perftest_" + UUID.randomUUID().toString().substring(0, 8);
            ctx.rabbitAdmin().createVhost(vhost, "guest");
            try {
                String uri = uri(ctx.servers().rabbit(), vhost);
                int fill = 700 * consumers * (o.perfTestSeconds() + 5);
                perfTest(
                        ctx,
                        "fill-" + consumers,
                        List.of(
                                "-h",
                                uri,
                                "-u",
                                "bench.perftest",
                                "-qq",
                                "-f",
                                "persistent",
                                "-s",
                                Integer.toString(MESSAGE_BYTES),
                                "-x",
                                "1",
                                "-y",
                                "0",
                                "-c",
                                "200",
                                "-C",
                                Integer.toString(fill)));
                String out = perfTest(
                        ctx,
                        "handout-" + consumers,
                        List.of(
                                "-h",
                                uri,
                                "-u",
                                "bench.perftest",
                                "-qq",
                                "-x",
                                "0",
                                "-y",
                                Integer.toString(consumers),
                                "-q",
                                "1",
                                "-z",
                                Integer.toString(o.perfTestSeconds())));
                // not PerfTest's average: the consumers may empty the queue before the time is up, and the idle
                // seconds after that would count
                long rate = drainRate(out);
                handOut.put(consumers + " consumer(s), from a backlog", rate);
                r.figure(Figure.of(
                        "ceiling",
                        "broker hand-out from a backlog, " + consumers + " prefetch-1 consumer(s)",
                        rate,
                        "msg/s"));
                System.out.printf(
                        "  PerfTest: %d prefetch-1 consumer(s) draining a quorum queue: %d msg/s%n", consumers, rate);
            } finally {
                ctx.rabbitAdmin().deleteVhost(vhost);
            }
            vhost = "bench_perftest_" + UUID.randomUUID().toString().substring(0, 8);
            ctx.rabbitAdmin().createVhost(vhost, "guest");
            try {
                String out = perfTest(
                        ctx,
                        "live-" + consumers,
                        List.of(
                                "-h",
                                uri(ctx.servers().rabbit(), vhost),
                                "-u",
                                "bench.perftest",
                                "-qq",
                                "-f",
                                "persistent",
                                "-s",
                                Integer.toString(MESSAGE_BYTES),
                                "-x",
                                "1",
                                "-y",
                                Integer.toString(consumers),
                                "-q",
                                "1",
                                "-c",
                                "64",
                                "-z",
                                Integer.toString(o.perfTestSeconds())));
                long rate = match(RECEIVING, out);
                handOut.put(consumers + " consumer(s), while publishing", rate);
                r.figure(Figure.of(
                        "ceiling",
                        "broker hand-out while publishing, " + consumers + " prefetch-1 consumer(s)",
                        rate,
                        "msg/s"));
                System.out.printf(
                        "  PerfTest: %d prefetch-1 consumer(s) with a publisher flooding the queue: %d msg/s%n",
                        consumers, rate);
            } finally {
                ctx.rabbitAdmin().deleteVhost(vhost);
            }
        }
        String vhost = "bench_perftest_" + UUID.randomUUID().toString().substring(0, 8);
        ctx.rabbitAdmin().createVhost(vhost, "guest");
        try {
            String out = perfTest(
                    ctx,
                    "confirm",
                    List.of(
                            "-h",
                            uri(ctx.servers().rabbit(), vhost),
                            "-u",
                            "bench.confirm",
                            "-qq",
                            "-f",
                            "persistent",
                            "-s",
                            Integer.toString(MESSAGE_BYTES),
                            "-x",
                            "1",
                            "-y",
                            "0",
                            "-c",
                            "1",
                            "-z",
                            Integer.toString(Math.max(5, o.perfTestSeconds() / 2))));
            long rate = match(SENDING, out);
            Matcher m = CONFIRM.matcher(out);
            Map<String, Object> confirm = new LinkedHashMap<>();
            confirm.put("publishesPerSecond", rate);
            if (m.find()) {
                confirm.put("p50Ms", Integer.parseInt(m.group(2)) / 1000.0);
                confirm.put("p95Ms", Integer.parseInt(m.group(4)) / 1000.0);
                confirm.put("p99Ms", Integer.parseInt(m.group(5)) / 1000.0);
                r.figure(Figure.of(
                        "ceiling",
                        "broker confirm round trip p50 (persistent, quorum)",
                        Integer.parseInt(m.group(2)) / 1000.0,
                        "ms"));
            }
            r.detail("confirmRoundTrip", confirm);
            System.out.printf("  PerfTest: one-at-a-time confirms: %d publishes/s %s%n", rate, confirm);
        } finally {
            ctx.rabbitAdmin().deleteVhost(vhost);
        }
        r.detail("handOutMessagesPerSecond", handOut);
        r.detail(
                "settings",
                "quorum queue, persistent, " + MESSAGE_BYTES + "-byte messages, consumers with prefetch 1 "
                        + "and one ack per message; hand-out measured from a pre-filled queue");
        return r;
    }

    static final Pattern RECEIVED_PER_SECOND = Pattern.compile("time [\\d.]+ s, received: (\\d+) msg/s");

    /**
     * The consumers' rate while the queue still had messages: the mean of PerfTest's per-second samples, leaving out
     * the seconds at the end in which the queue ran empty or stayed empty (below half the median of the non-zero
     * samples).
     */
    static long drainRate(String output) {
        List<Long> samples = new ArrayList<>();
        Matcher m = RECEIVED_PER_SECOND.matcher(output);
        while (m.find()) {
            samples.add(Long.parseLong(m.group(1)));
        }
        List<Long> busy = samples.stream().filter(x -> x > 0).sorted().toList();
        if (busy.isEmpty()) {
            return match(RECEIVING, output);
        }
        long median = busy.get(busy.size() / 2);
        int end = samples.size();
        while (end > 0 && samples.get(end - 1) * 2 < median) {
            end--;
        }
        return Math.round(samples.subList(0, end).stream()
                .mapToLong(Long::longValue)
                .average()
                .orElse(0));
    }

    static long match(Pattern p, String output) {
        Matcher m = p.matcher(output);
        long last = -1;
        while (m.find()) {
            last = Long.parseLong(m.group(1));
        }
        if (last < 0) {
            throw new IllegalStateException("PerfTest printed no '" + p.pattern() + "'; output:\n" + tail(output));
        }
        return last;
    }

    private static String uri(RabbitEndpoint rabbit, String vhost) {
        return "amqp://" + rabbit.username() + ":" + rabbit.password() + "@" + rabbit.host() + ":" + rabbit.port() + "/"
                + RabbitAdmin.encode(vhost);
    }

    /** Runs PerfTest in its own JVM and returns its output (also kept in the run's log folder). */
    static String perfTest(BenchContext ctx, String name, List<String> args) {
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx512m",
                "-cp",
                System.getProperty("java.class.path"),
                "com.rabbitmq.perf.PerfTest"));
        cmd.addAll(args);
        Path log = ctx.logDir().resolve("perftest-" + name + ".log");
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            StringBuilder out = new StringBuilder();
            try (BufferedReader reader =
                    new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = reader.readLine()) != null) {
                    out.append(line).append('\n');
                }
            }
            if (!p.waitFor(10, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new IllegalStateException("PerfTest " + name + " did not end");
            }
            Files.writeString(log, String.join(" ", cmd) + "\n\n" + out);
            if (p.exitValue() != 0) {
                throw new IllegalStateException(
                        "PerfTest " + name + " failed (exit " + p.exitValue() + "):\n" + tail(out.toString()));
            }
            return out.toString();
        } catch (IOException e) {
            throw new IllegalStateException("could not run PerfTest", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static String tail(String s) {
        return s.length() > 3000 ? s.substring(s.length() - 3000) : s;
    }
}
