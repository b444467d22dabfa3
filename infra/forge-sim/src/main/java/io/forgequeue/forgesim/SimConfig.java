package io.forgequeue.forgesim;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * forge-sim's settings. Each can be given as a command-line flag ({@code --step-ms 20} or {@code --step-ms=20}) or as
 * an environment variable ({@code FORGE_SIM_STEP_MS=20}); a flag wins over the environment.
 *
 * @param host          address to bind (default 127.0.0.1; {@code --listen} means 0.0.0.0)
 * @param port          Forge API port; 0 picks a free one (default 7861, Forge's --nowebui port)
 * @param adminPort     admin API port; 0 picks a free one; default {@code port + 1}, or 0 when {@code port} is 0
 * @param stepMs        wall time of one sampling step in milliseconds (fractions allowed; default 50)
 * @param modelLoadMs   time to load a checkpoint that is not loaded yet (default 500)
 * @param apiAuth       Forge's {@code --api-auth} value "user:pass,user2:pass2", or null for no authentication
 * @param previewEvery  initial value of Forge's {@code show_progress_every_n_steps} (default 10; -1 disables previews)
 * @param models        checkpoint names (relative paths), the first is selected at start
 * @param threads       request threads (default 40, like Forge's anyio pool)
 * @param failNext      fail this many txt2img calls with HTTP 500 (startup fault)
 * @param failError     Python exception class name of those failures (default RuntimeError)
 * @param failMessage   message of those failures, or null for a default per class
 * @param hangNext      hang this many txt2img calls until the fault is cleared (startup fault)
 * @param failureRate   probability 0..1 that any txt2img call fails (startup fault)
 * @param failureSeed   seed of the failure-rate random generator
 * @param webui         WebUI mode (Forge started without {@code --nowebui}): the {@code /internal/progress} and
 *                      {@code /internal/pending-tasks} routes exist (default false: API-only, where they are 404)
 * @param loaded        a checkpoint (any alias Forge accepts) selected and already loaded at start, so that the first
 *                      job using it pays no load; null (default) for Forge's behaviour: the first model selected,
 *                      nothing loaded
 * @param checkpointLoadMs load time per checkpoint in milliseconds, overriding {@code modelLoadMs} for the checkpoints
 *                      it names (keys: any alias Forge accepts, as given; empty by default)
 * @param tlsCert       PEM file with the Forge API's certificate (then its chain), or null (default) for plain HTTP;
 *                      with it the API speaks HTTPS only (the admin API stays plain HTTP: a test tool on loopback)
 * @param tlsKey        PEM file with that certificate's private key (PKCS#8, "BEGIN PRIVATE KEY"; RSA or EC); given
 *                      together with {@code tlsCert} or not at all
 */
public record SimConfig(
        String host,
        int port,
        int adminPort,
        double stepMs,
        long modelLoadMs,
        String apiAuth,
        int previewEvery,
        List<String> models,
        int threads,
        int failNext,
        String failError,
        String failMessage,
        int hangNext,
        double failureRate,
        long failureSeed,
        boolean webui,
        String loaded,
        Map<String, Long> checkpointLoadMs,
        String tlsCert,
        String tlsKey) {

    private static final Map<String, String> FLAGS = new LinkedHashMap<>();

    static {
        FLAGS.put("host", "address to bind (default 127.0.0.1)");
        FLAGS.put("listen", "bind 0.0.0.0 (no value)");
        FLAGS.put("port", "Forge API port, 0 = any free port (default 7861)");
        FLAGS.put("admin-port", "admin API port, 0 = any free port (default port+1, or 0 when port is 0)");
        FLAGS.put("step-ms", "milliseconds per sampling step (default 50)");
        FLAGS.put("model-load-ms", "milliseconds to load a checkpoint that is not loaded (default 500)");
        FLAGS.put("api-auth", "Forge --api-auth: \"user:pass,user2:pass2\" (default none)");
        FLAGS.put("preview-every", "live preview every N sampling steps, -1 = never (default 10)");
        FLAGS.put("models", "comma-separated checkpoint names (default: four realistic names)");
        FLAGS.put("threads", "request threads (default 40)");
        FLAGS.put("fail-next", "fail the next N txt2img calls with HTTP 500 (default 0)");
        FLAGS.put("fail-error", "exception class of those failures, e.g. OutOfMemoryError (default RuntimeError)");
        FLAGS.put("fail-message", "message of those failures");
        FLAGS.put("hang-next", "hang the next N txt2img calls until cleared via the admin API (default 0)");
        FLAGS.put("failure-rate", "probability 0..1 that a txt2img call fails (default 0)");
        FLAGS.put("failure-seed", "seed for --failure-rate (default 42)");
        FLAGS.put("webui", "WebUI mode: serve /internal/progress and /internal/pending-tasks (no value)");
        FLAGS.put("loaded", "checkpoint selected and already loaded at start (default: none loaded)");
        FLAGS.put(
                "checkpoint-load-ms",
                "load time per checkpoint, \"name=ms,name2=ms\" (default: model-load-ms for all)");
        FLAGS.put("tls-cert", "PEM certificate (chain): the Forge API speaks HTTPS only (default: plain HTTP)");
        FLAGS.put("tls-key", "PEM private key (PKCS#8) of --tls-cert");
    }

    public SimConfig {
        models = List.copyOf(models);
        if (port < 0 || port > 65535 || adminPort < 0 || adminPort > 65535) {
            throw new IllegalArgumentException("ports must be in 0..65535");
        }
        if (stepMs < 0 || modelLoadMs < 0) {
            throw new IllegalArgumentException("step-ms and model-load-ms must not be negative");
        }
        if (models.isEmpty()) {
            throw new IllegalArgumentException("at least one model is needed");
        }
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1");
        }
        if (failureRate < 0 || failureRate > 1) {
            throw new IllegalArgumentException("failure-rate must be in 0..1");
        }
        if (failNext < 0 || hangNext < 0) {
            throw new IllegalArgumentException("fail-next and hang-next must not be negative");
        }
        if (failError == null || failError.isBlank()) {
            failError = "RuntimeError";
        }
        ApiAuth.parse(apiAuth); // fails like Forge does at startup on a malformed value
        if (loaded != null && loaded.isBlank()) {
            loaded = null;
        }
        if (loaded != null && new Catalog(models).checkpoint(loaded) == null) {
            throw new IllegalArgumentException("--loaded '" + loaded + "' is none of the models " + models);
        }
        checkpointLoadMs = Map.copyOf(checkpointLoadMs == null ? Map.of() : checkpointLoadMs);
        tlsCert = tlsCert == null || tlsCert.isBlank() ? null : tlsCert;
        tlsKey = tlsKey == null || tlsKey.isBlank() ? null : tlsKey;
        if ((tlsCert == null) != (tlsKey == null)) {
            throw new IllegalArgumentException("--tls-cert and --tls-key go together");
        }
        Catalog catalog = new Catalog(models);
        for (Map.Entry<String, Long> e : checkpointLoadMs.entrySet()) {
            if (catalog.checkpoint(e.getKey()) == null) {
                throw new IllegalArgumentException(
                        "--checkpoint-load-ms '" + e.getKey() + "' is none of the models " + models);
            }
            if (e.getValue() < 0) {
                throw new IllegalArgumentException("--checkpoint-load-ms must not be negative");
            }
        }
    }

    /** Defaults, with the API on {@code port} and the admin API on {@code port + 1} (or both random for 0). */
    public static SimConfig defaults() {
        return fromArgs();
    }

    /** Parses flags only (the environment is ignored): handy for tests. */
    public static SimConfig fromArgs(String... args) {
        return parse(args, Map.of());
    }

    /** Parses flags, falling back to {@code FORGE_SIM_*} variables of {@code env}, then to defaults. */
    public static SimConfig parse(String[] args, Map<String, String> env) {
        Map<String, String> values = new LinkedHashMap<>();
        for (String flag : FLAGS.keySet()) {
            String fromEnv =
                    env.get("FORGE_SIM_" + flag.toUpperCase(Locale.ROOT).replace('-', '_'));
            if (fromEnv != null) {
                values.put(flag, fromEnv);
            }
        }
        List<String> list = Arrays.asList(args);
        for (int i = 0; i < list.size(); i++) {
            String arg = list.get(i);
            if (!arg.startsWith("--")) {
                throw new IllegalArgumentException("unexpected argument '" + arg + "'");
            }
            String name = arg.substring(2);
            String value = null;
            int eq = name.indexOf('=');
            if (eq >= 0) {
                value = name.substring(eq + 1);
                name = name.substring(0, eq);
            }
            if (!FLAGS.containsKey(name)) {
                throw new IllegalArgumentException("unknown option --" + name);
            }
            if (name.equals("listen") || name.equals("webui")) {
                values.put(name, value == null ? "true" : value);
                continue;
            }
            if (value == null) {
                if (i + 1 >= list.size()) {
                    throw new IllegalArgumentException("--" + name + " needs a value");
                }
                value = list.get(++i);
            }
            values.put(name, value);
        }

        boolean listen = Boolean.parseBoolean(values.getOrDefault("listen", "false"));
        String host = values.getOrDefault("host", listen ? "0.0.0.0" : "127.0.0.1");
        int port = intValue(values, "port", 7861);
        int adminPort =
                values.containsKey("admin-port") ? intValue(values, "admin-port", 0) : (port == 0 ? 0 : port + 1);
        List<String> models = values.containsKey("models") ? splitList(values.get("models")) : Catalog.DEFAULT_MODELS;
        String apiAuth = values.get("api-auth");
        return new SimConfig(
                host,
                port,
                adminPort,
                doubleValue(values, "step-ms", 50),
                longValue(values, "model-load-ms", 500),
                apiAuth == null || apiAuth.isEmpty() ? null : apiAuth,
                intValue(values, "preview-every", 10),
                models,
                intValue(values, "threads", 40),
                intValue(values, "fail-next", 0),
                values.getOrDefault("fail-error", "RuntimeError"),
                values.get("fail-message"),
                intValue(values, "hang-next", 0),
                doubleValue(values, "failure-rate", 0),
                longValue(values, "failure-seed", 42),
                Boolean.parseBoolean(values.getOrDefault("webui", "false")),
                values.get("loaded"),
                loadTimes(values.get("checkpoint-load-ms")),
                values.get("tls-cert"),
                values.get("tls-key"));
    }

    /** Human-readable list of options, for --help and error messages. */
    public static String usage() {
        StringBuilder sb = new StringBuilder("usage: java -jar forge-sim.jar [options]\n");
        FLAGS.forEach((flag, help) -> sb.append(String.format(
                "  --%-15s %s  [env FORGE_SIM_%s]%n",
                flag, help, flag.toUpperCase(Locale.ROOT).replace('-', '_'))));
        return sb.toString();
    }

    /** Same settings with other ports (used by tests and by {@link ForgeSimProcess}). */
    public SimConfig withPorts(int newPort, int newAdminPort) {
        return new SimConfig(
                host,
                newPort,
                newAdminPort,
                stepMs,
                modelLoadMs,
                apiAuth,
                previewEvery,
                models,
                threads,
                failNext,
                failError,
                failMessage,
                hangNext,
                failureRate,
                failureSeed,
                webui,
                loaded,
                checkpointLoadMs,
                tlsCert,
                tlsKey);
    }

    /** Whether the Forge API speaks HTTPS. */
    public boolean tls() {
        return tlsCert != null;
    }

    /** "name=ms,name2=ms" as a map (null or blank: empty). */
    private static Map<String, Long> loadTimes(String raw) {
        Map<String, Long> out = new LinkedHashMap<>();
        if (raw == null) {
            return out;
        }
        for (String part : splitList(raw)) {
            int eq = part.lastIndexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("--checkpoint-load-ms needs name=ms pairs, got '" + part + "'");
            }
            String ms = part.substring(eq + 1).strip();
            try {
                out.put(part.substring(0, eq).strip(), Long.parseLong(ms));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--checkpoint-load-ms needs an integer, got '" + ms + "'");
            }
        }
        return out;
    }

    private static List<String> splitList(String raw) {
        List<String> out = new ArrayList<>();
        for (String part : raw.split(",")) {
            if (!part.isBlank()) {
                out.add(part.strip());
            }
        }
        return out;
    }

    private static int intValue(Map<String, String> values, String key, int fallback) {
        String raw = values.get(key);
        try {
            return raw == null ? fallback : Integer.parseInt(raw.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + key + " needs an integer, got '" + raw + "'");
        }
    }

    private static long longValue(Map<String, String> values, String key, long fallback) {
        String raw = values.get(key);
        try {
            return raw == null ? fallback : Long.parseLong(raw.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + key + " needs an integer, got '" + raw + "'");
        }
    }

    private static double doubleValue(Map<String, String> values, String key, double fallback) {
        String raw = values.get(key);
        try {
            return raw == null ? fallback : Double.parseDouble(raw.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + key + " needs a number, got '" + raw + "'");
        }
    }
}
