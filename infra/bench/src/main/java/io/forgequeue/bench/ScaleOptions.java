package io.forgequeue.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Options of the {@code scale} scenario (issue 21), taken out of the command line before the common options are
 * parsed ({@code --scale-*}).
 *
 * @param workers        simulated workers (500)
 * @param keys           API keys (1000)
 * @param jobs           jobs of the burst (100000)
 * @param zipf           exponent of the keys' submission mix: key k submits in proportion to 1/k^zipf (1.0)
 * @param checkpoints    checkpoints (5)
 * @param timeFactor     simulated GPU times are this many times longer than real ones (4)
 * @param windowSeconds  length of each measured window (60)
 * @param warmupSeconds  wait after the fleet is busy before a window starts (15)
 * @param wsClients      WebSocket clients watching waiting jobs (100), each watching {@code wsJobsPerClient} (10)
 * @param steady         whether the steady-state run follows the burst (true)
 * @param failover       whether the leader is killed after the burst window (true)
 */
record ScaleOptions(
        int workers,
        int keys,
        int jobs,
        double zipf,
        int checkpoints,
        double timeFactor,
        int windowSeconds,
        int warmupSeconds,
        int wsClients,
        int wsJobsPerClient,
        boolean steady,
        boolean failover) {

    static final String PREFIX = "--scale-";

    static String usage() {
        return """
                  scale scenario (--scenarios scale; not part of the default set):
                  --scale-workers N (500)  --scale-keys N (1000)  --scale-jobs N (100000)  --scale-zipf X (1.0)
                  --scale-checkpoints N (5)  --scale-time-factor X (4: simulated GPU times x4, see README)
                  --scale-window-seconds N (60)  --scale-warmup-seconds N (15)
                  --scale-ws-clients N (100)  --scale-ws-jobs N (10 watched jobs per client)
                  --scale-steady true|false (true)  --scale-failover true|false (true)
                """;
    }

    /** Splits {@code args} into the scale options (returned) and the rest (added to {@code rest}). */
    static ScaleOptions parse(String[] args, List<String> rest, boolean quick) {
        Map<String, String> v = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (args[i].startsWith(PREFIX)) {
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException(args[i] + " needs a value\n" + usage());
                }
                v.put(args[i].substring(PREFIX.length()), args[++i]);
            } else {
                rest.add(args[i]);
            }
        }
        ScaleOptions o = new ScaleOptions(
                integer(v, "workers", quick ? 100 : 500),
                integer(v, "keys", quick ? 200 : 1000),
                integer(v, "jobs", quick ? 10_000 : 100_000),
                decimal(v, "zipf", 1.0),
                integer(v, "checkpoints", 5),
                decimal(v, "time-factor", 4.0),
                integer(v, "window-seconds", quick ? 20 : 60),
                integer(v, "warmup-seconds", quick ? 5 : 15),
                integer(v, "ws-clients", quick ? 20 : 100),
                integer(v, "ws-jobs", 10),
                bool(v, "steady", true),
                bool(v, "failover", true));
        List<String> known = List.of(
                "workers",
                "keys",
                "jobs",
                "zipf",
                "checkpoints",
                "time-factor",
                "window-seconds",
                "warmup-seconds",
                "ws-clients",
                "ws-jobs",
                "steady",
                "failover");
        List<String> unknown = new ArrayList<>(v.keySet());
        unknown.removeAll(known);
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException("unknown option(s) " + unknown + "\n" + usage());
        }
        return o;
    }

    Map<String, Object> describe() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("workers", workers);
        m.put("keys", keys);
        m.put("jobs", jobs);
        m.put("zipf", zipf);
        m.put("checkpoints", checkpoints);
        m.put("timeFactor", timeFactor);
        m.put("windowSeconds", windowSeconds);
        m.put("warmupSeconds", warmupSeconds);
        m.put("wsClients", wsClients);
        m.put("wsJobsPerClient", wsJobsPerClient);
        m.put("steady", steady);
        m.put("failover", failover);
        return m;
    }

    private static int integer(Map<String, String> v, String key, int fallback) {
        try {
            return v.containsKey(key) ? Integer.parseInt(v.get(key).strip()) : fallback;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(PREFIX + key + " needs an integer, got '" + v.get(key) + "'");
        }
    }

    private static double decimal(Map<String, String> v, String key, double fallback) {
        try {
            return v.containsKey(key) ? Double.parseDouble(v.get(key).strip()) : fallback;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(PREFIX + key + " needs a number, got '" + v.get(key) + "'");
        }
    }

    private static boolean bool(Map<String, String> v, String key, boolean fallback) {
        return v.containsKey(key) ? Boolean.parseBoolean(v.get(key).strip()) : fallback;
    }
}
