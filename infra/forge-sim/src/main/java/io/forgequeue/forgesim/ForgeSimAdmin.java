package io.forgequeue.forgesim;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * Java client of forge-sim's admin API, for tests and benchmarks in other modules: inject faults (HTTP 500s, hangs,
 * a random failure rate, slow model loads), take the Forge API down and up, and read call counters and the GPU duty
 * cycle as the sim measured it. Thread-safe. Every method throws {@link IllegalStateException} when the admin API
 * answers with an error and {@link UncheckedIOException} when it cannot be reached.
 */
public final class ForgeSimAdmin {

    /**
     * Counts of txt2img calls since the last {@link #resetStats()}; {@code held} counts the times a call stopped at
     * a hold's step ({@link #holdAtStep(int)}, {@link #holdNext(int, int)}, a foreign job's own).
     */
    public record Counters(
            long received,
            long started,
            long completed,
            long interrupted,
            long skipped,
            long failed,
            long rejected,
            long hung,
            long aborted,
            long held) {}

    /**
     * The "GPU" duty cycle seen from the sim: a job is busy from acquiring Forge's queue lock to releasing it.
     *
     * @param jobs         finished busy intervals
     * @param running      whether a job holds the lock right now
     * @param busyMicros   total busy time (including a running job so far)
     * @param wallMicros   time since the first job started (until now)
     * @param spanMicros   time from the first job's start to the last job's end (or now, while one runs)
     * @param dutyCycle    busyMicros / spanMicros (0..1)
     * @param gapCount     idle gaps measured (from a job's lock release to the next job's acquire)
     * @param gapsMicros   every gap in order, only when asked for with {@code stats(true)}, else empty
     * @param modelLoads   checkpoint loads (each a switch, or the first load after start or unload)
     * @param loadingMicros busy time spent loading checkpoints (a load is counted once it ends)
     * @param generatingMicros busy time not spent loading: busyMicros - loadingMicros
     * @param usefulShare  generatingMicros / wallMicros (0..1): the "useful GPU share"
     */
    public record DutyCycle(
            long jobs,
            boolean running,
            long busyMicros,
            long wallMicros,
            long spanMicros,
            double dutyCycle,
            long gapCount,
            long gapP50Micros,
            long gapP90Micros,
            long gapP99Micros,
            long gapMaxMicros,
            double gapMeanMicros,
            List<Long> gapsMicros,
            long modelLoads,
            long loadingMicros,
            long generatingMicros,
            double usefulShare) {

        public DutyCycle {
            gapsMicros = List.copyOf(gapsMicros);
        }
    }

    /** Answer of {@link #stats()}. */
    public record Stats(Counters calls, DutyCycle duty) {}

    /**
     * Answer of {@link #state()}: what the sim is set to do right now.
     *
     * @param webui          whether {@code /internal/progress} and {@code /internal/pending-tasks} answer
     * @param holdAtStep     the hold fault's step: every call's ({@link #holdAtStep(int)}; 0: none), or, while
     *                       {@code holdNext} is above 0, the counted hold's ({@link #holdNext(int, int)})
     * @param holdNext       calls the counted hold still takes
     * @param heldNow        calls held at a sampling step right now, by either hold or their foreign job's own
     * @param currentTask    Forge's current task id ({@code force_task_id} or a generated one), or null
     * @param pendingTasks   task ids waiting for the queue lock, in arrival order
     * @param foreignRunning foreign jobs ({@link #startForeignJob}) that have not ended
     * @param ignoreOverrideNext calls still to ignore the checkpoint they ask for (see {@link #ignoreOverrideNext})
     */
    public record State(
            boolean apiUp,
            int apiPort,
            int adminPort,
            double stepMs,
            long modelLoadMs,
            int failNext,
            String failError,
            int hangNext,
            int hungNow,
            double failureRate,
            String loadedModel,
            String selectedModel,
            long modelLoads,
            boolean busy,
            int waiting,
            Counters calls,
            boolean webui,
            int holdAtStep,
            int holdNext,
            int heldNow,
            int interruptNext,
            String currentTask,
            List<String> pendingTasks,
            int foreignRunning,
            int ignoreOverrideNext) {

        public State {
            pendingTasks = List.copyOf(pendingTasks);
        }
    }

    /**
     * A job of another client of the same Forge, for {@link #startForeignJob}: a second API client, or a person using
     * Forge's web UI ({@code ui}: the job is named after its task id and its flags reset when it ends).
     *
     * @param prompt     drawn into its images and live previews
     * @param steps      sampling steps
     * @param width      width
     * @param height     height
     * @param ui         whether it stands for a web UI job
     * @param holdAtStep hold it after this many steps, with the queue lock, until {@link #release()}; -1 for no
     */
    public record ForeignJob(String prompt, int steps, int width, int height, boolean ui, int holdAtStep) {

        /** Another API client's txt2img. */
        public static ForeignJob api(String prompt, int steps) {
            return new ForeignJob(prompt, steps, 512, 512, false, -1);
        }

        /** A person's generation in the web UI. */
        public static ForeignJob ui(String prompt, int steps) {
            return new ForeignJob(prompt, steps, 512, 512, true, -1);
        }

        /** The same job, held after {@code step} sampling steps until released. */
        public ForeignJob heldAtStep(int step) {
            return new ForeignJob(prompt, steps, width, height, ui, step);
        }
    }

    private final URI adminUrl;

    private final HttpClient client;

    public ForgeSimAdmin(URI adminUrl) {
        this(
                adminUrl,
                HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build());
    }

    public ForgeSimAdmin(URI adminUrl, HttpClient client) {
        this.adminUrl = adminUrl;
        this.client = client;
    }

    public URI adminUrl() {
        return adminUrl;
    }

    /** The next {@code count} txt2img calls fail with HTTP 500 {@code RuntimeError}. */
    public State failNext(int count) {
        return failNext(count, "RuntimeError", null, 0);
    }

    /** The next {@code count} txt2img calls fail with HTTP 500 of that Python exception class, e.g. "NansException". */
    public State failNext(int count, String errorClass) {
        return failNext(count, errorClass, null, 0);
    }

    /**
     * The next {@code count} txt2img calls fail with HTTP 500 {@code {"error": errorClass, "message": message}},
     * after {@code atStep} sampling steps (0 = at once, after taking the queue lock). A null message gives a
     * realistic default (a CUDA-style text for OutOfMemoryError).
     */
    public State failNext(int count, String errorClass, String message, int atStep) {
        ObjectNode body =
                Json.object().put("count", count).put("error", errorClass).put("atStep", atStep);
        if (message != null) {
            body.put("message", message);
        }
        return toState(post("/admin/faults/fail", body));
    }

    /** The next {@code count} txt2img calls fail with a CUDA out-of-memory error ({@code OutOfMemoryError}). */
    public State failNextWithOutOfMemory(int count) {
        return failNext(count, "OutOfMemoryError", null, 0);
    }

    /** The next {@code count} txt2img calls are accepted and never answered until {@link #clearFaults()}. */
    public State hangNext(int count) {
        return toState(post("/admin/faults/hang", Json.object().put("count", count)));
    }

    /**
     * From now on every txt2img call, also one running now, stops after sampling step {@code step} (1-based, counted
     * over the whole call) and waits there, holding Forge's queue lock and showing its progress and preview, as a
     * stalled GPU would, until {@link #releaseHeld()} (or {@link #release()}), another step is set,
     * {@link #clearFaults()}, or an interrupt or skip. Moving the hold to another step lets the held calls go on to
     * it. {@code 0} removes the hold. A call with no more than {@code step} steps is not held. Replaces a hold of
     * {@link #holdNext(int, int)} that has calls left.
     */
    public State holdAtStep(int step) {
        return toState(post("/admin/faults/hold", Json.object().put("atStep", step)));
    }

    /**
     * Lets the calls held right now go on (by either hold, or their foreign job's own); calls that reach the hold's
     * step later stop there again. Hung calls stay hung (see {@link #release()}).
     */
    public State releaseHeld() {
        return toState(post("/admin/faults/release", Json.object()));
    }

    /** Every txt2img call fails with probability {@code rate} (seeded, so runs repeat), as RuntimeError. */
    public State failureRate(double rate, long seed) {
        return failureRate(rate, seed, "RuntimeError");
    }

    public State failureRate(double rate, long seed, String errorClass) {
        return toState(post(
                "/admin/faults/failure-rate",
                Json.object().put("rate", rate).put("seed", seed).put("error", errorClass)));
    }

    /**
     * The next {@code count} txt2img calls stop after {@code atStep} sampling steps (0: before the first step) and
     * keep Forge's queue lock, with their progress and live preview visible, until {@link #release()},
     * {@link #releaseHeld()} or {@link #clearFaults()}; an interrupt or skip sent meanwhile acts when they go on.
     * {@code atStep} must be below the call's steps. Replaces a hold of {@link #holdAtStep(int)}.
     */
    public State holdNext(int count, int atStep) {
        return toState(
                post("/admin/faults/hold", Json.object().put("count", count).put("atStep", atStep)));
    }

    /**
     * Lets every hung and held call go on; faults planned for later calls stay (unlike {@link #clearFaults()}),
     * the hold too.
     */
    public State release() {
        return toState(post("/admin/release", Json.object()));
    }

    /**
     * The next {@code count} txt2img calls are interrupted after {@code atStep} sampling steps (0: before the first
     * step, so they return no image), as another client's POST /interrupt at that moment would. The call answers
     * 200 with its unfinished images, and the interrupted flag stays set while Forge is idle afterwards.
     */
    public State interruptNext(int count, int atStep) {
        return toState(post(
                "/admin/faults/interrupt", Json.object().put("count", count).put("atStep", atStep)));
    }

    /**
     * The next {@code count} txt2img calls ignore the checkpoint they ask for, in {@code override_settings} or
     * selected through POST /options (Forge issues #1940, #1610): the loaded checkpoint runs (the selected one when
     * none is loaded), and {@code info} reports it truthfully. For testing a client's check of the model that ran.
     */
    public State ignoreOverrideNext(int count) {
        return toState(post("/admin/faults/ignore-override", Json.object().put("count", count)));
    }

    /**
     * Starts another client's job on the sim at once (it queues for the lock like any call) and returns its task
     * id. It ends by itself unless held; {@link State#foreignRunning()} counts it until then.
     */
    public String startForeignJob(ForeignJob job) {
        ObjectNode request = Json.object()
                .put("prompt", job.prompt())
                .put("steps", job.steps())
                .put("width", job.width())
                .put("height", job.height());
        ObjectNode body = Json.object().put("ui", job.ui()).put("holdAtStep", job.holdAtStep());
        body.set("request", request);
        return post("/admin/foreign-job", body).path("taskId").asString();
    }

    /** WebUI mode on or off: whether {@code /internal/progress} and {@code /internal/pending-tasks} answer. */
    public State webui(boolean on) {
        return toState(post("/admin/settings", Json.object().put("webui", on)));
    }

    /** Clears every fault; hung and held calls then run normally and answer. */
    public State clearFaults() {
        return toState(post("/admin/faults/clear", Json.object()));
    }

    /** Closes the API socket: connections are refused, open ones dropped, running calls abandoned. */
    public State goDown() {
        return goDown(Duration.ZERO);
    }

    /** Like {@link #goDown()}, then the API comes back by itself after {@code downFor} (zero = stays down). */
    public State goDown(Duration downFor) {
        return toState(post("/admin/down", Json.object().put("forMs", downFor.toMillis())));
    }

    /** Rebinds the API on its port. */
    public State comeUp() {
        return toState(post("/admin/up", Json.object()));
    }

    /** Wall time of one sampling step. */
    public State stepTime(Duration step) {
        return toState(post("/admin/settings", Json.object().put("stepMs", step.toNanos() / 1e6)));
    }

    /** Time to load a checkpoint that is not loaded. */
    public State modelLoadTime(Duration load) {
        return toState(post("/admin/settings", Json.object().put("modelLoadMs", load.toMillis())));
    }

    /** Slow model load: sets the load time and unloads the model, so the next txt2img pays it. */
    public State slowModelLoad(Duration load) {
        return toState(post(
                "/admin/settings",
                Json.object().put("modelLoadMs", load.toMillis()).put("unloadModel", true)));
    }

    public State state() {
        return toState(get("/admin/state"));
    }

    public Stats stats() {
        return stats(false);
    }

    /** Counters and duty cycle; with {@code withGaps} every idle gap is listed too. */
    public Stats stats(boolean withGaps) {
        return toStats(get(withGaps ? "/admin/stats?gaps=true" : "/admin/stats"));
    }

    public Stats resetStats() {
        return toStats(post("/admin/stats/reset", Json.object()));
    }

    private JsonNode get(String path) {
        return send(HttpRequest.newBuilder(adminUrl.resolve(path)).GET().build());
    }

    private JsonNode post(String path, JsonNode body) {
        return send(HttpRequest.newBuilder(adminUrl.resolve(path))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(Json.bytes(body)))
                .build());
    }

    private JsonNode send(HttpRequest request) {
        HttpResponse<byte[]> response;
        try {
            response = client.send(request, HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            throw new UncheckedIOException("forge-sim admin API at " + adminUrl + " unreachable", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while calling forge-sim admin API", e);
        }
        String text = new String(response.body(), java.nio.charset.StandardCharsets.UTF_8);
        if (response.statusCode() != 200) {
            throw new IllegalStateException("forge-sim admin " + request.method() + " "
                    + request.uri().getPath() + " answered " + response.statusCode() + ": " + text);
        }
        return Json.MAPPER.readTree(text);
    }

    private static State toState(JsonNode s) {
        JsonNode api = s.path("api");
        JsonNode faults = s.path("faults");
        JsonNode model = s.path("model");
        JsonNode queue = s.path("queue");
        List<String> pending = new ArrayList<>();
        queue.path("pendingTasks").forEach(t -> pending.add(t.asString()));
        return new State(
                api.path("up").asBoolean(),
                api.path("port").asInt(),
                api.path("adminPort").asInt(),
                s.path("settings").path("stepMs").asDouble(),
                s.path("settings").path("modelLoadMs").asLong(),
                faults.path("failNext").asInt(),
                faults.path("failError").asString(null),
                faults.path("hangNext").asInt(),
                faults.path("hungNow").asInt(),
                faults.path("failureRate").asDouble(),
                model.path("loaded").isNull() ? null : model.path("loaded").asString(null),
                model.path("selected").asString(null),
                model.path("loads").asLong(),
                queue.path("busy").asBoolean(),
                queue.path("waiting").asInt(),
                toCounters(s.path("txt2img")),
                api.path("webui").asBoolean(),
                faults.path("holdAtStep").asInt(),
                faults.path("holdNext").asInt(),
                faults.path("heldNow").asInt(),
                faults.path("interruptNext").asInt(),
                queue.path("currentTask").isNull()
                        ? null
                        : queue.path("currentTask").asString(null),
                pending,
                queue.path("foreignRunning").asInt(),
                faults.path("ignoreOverrideNext").asInt());
    }

    private static Stats toStats(JsonNode s) {
        JsonNode d = s.path("duty");
        List<Long> gaps = new ArrayList<>();
        d.path("gapsMicros").forEach(g -> gaps.add(g.asLong()));
        DutyCycle duty = new DutyCycle(
                d.path("jobs").asLong(),
                d.path("running").asBoolean(),
                d.path("busyMicros").asLong(),
                d.path("wallMicros").asLong(),
                d.path("spanMicros").asLong(),
                d.path("dutyCycle").asDouble(),
                d.path("gapCount").asLong(),
                d.path("gapP50Micros").asLong(),
                d.path("gapP90Micros").asLong(),
                d.path("gapP99Micros").asLong(),
                d.path("gapMaxMicros").asLong(),
                d.path("gapMeanMicros").asDouble(),
                gaps,
                d.path("modelLoads").asLong(),
                d.path("loadingMicros").asLong(),
                d.path("generatingMicros").asLong(),
                d.path("usefulShare").asDouble());
        return new Stats(toCounters(s.path("txt2img")), duty);
    }

    private static Counters toCounters(JsonNode c) {
        return new Counters(
                c.path("received").asLong(),
                c.path("started").asLong(),
                c.path("completed").asLong(),
                c.path("interrupted").asLong(),
                c.path("skipped").asLong(),
                c.path("failed").asLong(),
                c.path("rejected").asLong(),
                c.path("hung").asLong(),
                c.path("aborted").asLong(),
                c.path("held").asLong());
    }
}
