package io.forgequeue.forgesim;

import java.util.OptionalInt;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * The admin API (own port, no auth, JSON): fault injection, down/up of the Forge API, settings, counters and the
 * duty-cycle statistics. {@link ForgeSimAdmin} is its Java client.
 *
 * <pre>
 * GET  /admin/state                      settings, faults, model, queue and call counters
 * GET  /admin/stats[?gaps=true]          call counters + duty cycle (busy, wall, span, idle-gap percentiles,
 *                                        loading and generating time, useful share)
 * POST /admin/stats/reset
 * POST /admin/faults/fail                {"count":N, "error":"OutOfMemoryError", "message":"...", "atStep":0}
 * POST /admin/faults/hang                {"count":N}
 * POST /admin/faults/failure-rate        {"rate":0.1, "seed":42, "error":"RuntimeError", "message":"..."}
 * POST /admin/faults/hold                {"count":N, "atStep":K}: the next N calls held after K steps (0: before the
 *                                        first), lock kept, until released
 *                                        {"atStep":K}: every call from now on held after K steps until released,
 *                                        interrupted or skipped, or the hold moves (0: no hold)
 * POST /admin/faults/release             lets the calls held now go on (the hold stays for later calls)
 * POST /admin/faults/interrupt           {"count":N, "atStep":K}: interrupted after K steps, as by another client
 * POST /admin/faults/ignore-override     {"count":N}: the next N calls run the loaded checkpoint, whatever they ask for
 * POST /admin/faults/clear               clears all faults, releases hung and held calls
 * POST /admin/release                    releases hung and held calls (faults for later calls stay)
 * POST /admin/foreign-job                {"request":{txt2img body}, "ui":false, "holdAtStep":-1}: another client's
 *                                        job, started at once on its own thread; answers {"taskId":"..."}
 * POST /admin/down                       {"forMs":X} optional: closes the API socket (connections refused)
 * POST /admin/up                         rebinds the API port
 * POST /admin/settings                   {"stepMs":..., "modelLoadMs":..., "unloadModel":true, "webui":true}
 * </pre>
 */
final class AdminApi {

    private static final System.Logger LOG = System.getLogger("forge-sim");

    private final ForgeSimServer server;

    private final Txt2ImgEngine engine;

    private final ForgeApi forgeApi;

    private final TaskQueue tasks;

    private final FaultPlan faults;

    private final SimStats stats;

    private final Options options;

    AdminApi(
            ForgeSimServer server,
            Txt2ImgEngine engine,
            ForgeApi forgeApi,
            TaskQueue tasks,
            FaultPlan faults,
            SimStats stats,
            Options options) {
        this.server = server;
        this.engine = engine;
        this.forgeApi = forgeApi;
        this.tasks = tasks;
        this.faults = faults;
        this.stats = stats;
        this.options = options;
    }

    Router router() {
        Router r = new Router(null);
        r.get("/admin/state", false, req -> Router.Response.json(state()));
        r.get(
                "/admin/stats",
                false,
                req -> Router.Response.json(
                        stats.snapshot("true".equalsIgnoreCase(req.query().get("gaps")), System.nanoTime())));
        r.post("/admin/stats/reset", false, req -> {
            stats.reset();
            return Router.Response.json(stats.snapshot(false, System.nanoTime()));
        });
        r.post("/admin/faults/fail", false, req -> {
            JsonNode body = body(req);
            FaultPlan.Failure how = failure(body);
            faults.failNext(intField(body, "count", 1), how);
            LOG.log(
                    System.Logger.Level.INFO,
                    "fault: fail the next {0} txt2img call(s) with {1}",
                    intField(body, "count", 1),
                    how.error());
            return Router.Response.json(state());
        });
        r.post("/admin/faults/hang", false, req -> {
            int count = intField(body(req), "count", 1);
            faults.hangNext(count);
            LOG.log(System.Logger.Level.INFO, "fault: hang the next {0} txt2img call(s)", count);
            return Router.Response.json(state());
        });
        r.post("/admin/faults/hold", false, req -> {
            JsonNode body = body(req);
            if (body.hasNonNull("count")) {
                int count = intField(body, "count", 1);
                int atStep = intField(body, "atStep", 0);
                faults.hold(OptionalInt.of(count), atStep);
                LOG.log(
                        System.Logger.Level.INFO,
                        "fault: hold the next {0} txt2img call(s) after {1} step(s)",
                        count,
                        atStep);
            } else {
                int atStep = intField(body, "atStep", 1);
                faults.hold(OptionalInt.empty(), atStep);
                LOG.log(System.Logger.Level.INFO, "fault: hold every txt2img call after {0} step(s)", atStep);
            }
            return Router.Response.json(state());
        });
        r.post("/admin/faults/release", false, req -> {
            faults.releaseHeld();
            LOG.log(System.Logger.Level.INFO, "held txt2img calls released");
            return Router.Response.json(state());
        });
        r.post("/admin/faults/failure-rate", false, req -> {
            JsonNode body = body(req);
            double rate = body.path("rate").asDouble(0);
            if (rate < 0 || rate > 1) {
                throw ApiError.http(400, "rate must be in 0..1");
            }
            faults.failureRate(rate, body.path("seed").asLong(42), failure(body));
            LOG.log(System.Logger.Level.INFO, "fault: fail txt2img calls with probability {0}", rate);
            return Router.Response.json(state());
        });
        r.post("/admin/faults/interrupt", false, req -> {
            JsonNode body = body(req);
            int count = intField(body, "count", 1);
            int atStep = intField(body, "atStep", 0);
            faults.interruptNext(count, atStep);
            LOG.log(
                    System.Logger.Level.INFO,
                    "fault: interrupt the next {0} txt2img call(s) after {1} step(s)",
                    count,
                    atStep);
            return Router.Response.json(state());
        });
        r.post("/admin/faults/ignore-override", false, req -> {
            int count = intField(body(req), "count", 1);
            faults.ignoreOverrideNext(count);
            LOG.log(
                    System.Logger.Level.INFO,
                    "fault: the next {0} txt2img call(s) ignore the checkpoint they ask for",
                    count);
            return Router.Response.json(state());
        });
        r.post("/admin/release", false, req -> {
            faults.release();
            LOG.log(System.Logger.Level.INFO, "hung and held calls released");
            return Router.Response.json(state());
        });
        r.post("/admin/foreign-job", false, req -> {
            JsonNode body = body(req);
            JsonNode request = body.get("request");
            Txt2ImgRequest validated =
                    Txt2ImgRequest.validate(request == null || request.isNull() ? Json.object() : request);
            boolean ui = body.path("ui").asBoolean(false);
            int holdAtStep = body.path("holdAtStep").asInt(-1);
            String taskId = engine.startForeign(validated, new Txt2ImgEngine.Origin(ui, holdAtStep));
            LOG.log(
                    System.Logger.Level.INFO,
                    "foreign {0} job {1} started{2}",
                    ui ? "web UI" : "API",
                    taskId,
                    holdAtStep >= 0 ? ", held after " + holdAtStep + " step(s)" : "");
            return Router.Response.json(Json.object().put("taskId", taskId));
        });
        r.post("/admin/faults/clear", false, req -> {
            faults.clear();
            LOG.log(System.Logger.Level.INFO, "faults cleared");
            return Router.Response.json(state());
        });
        r.post("/admin/down", false, req -> {
            long forMs = body(req).path("forMs").asLong(0);
            server.down(forMs);
            return Router.Response.json(state());
        });
        r.post("/admin/up", false, req -> {
            server.up();
            return Router.Response.json(state());
        });
        r.post("/admin/settings", false, req -> {
            JsonNode body = body(req);
            if (body.has("stepMs")) {
                double stepMs = body.get("stepMs").asDouble();
                if (stepMs < 0) {
                    throw ApiError.http(400, "stepMs must not be negative");
                }
                engine.stepMs(stepMs);
            }
            if (body.has("modelLoadMs")) {
                long loadMs = body.get("modelLoadMs").asLong();
                if (loadMs < 0) {
                    throw ApiError.http(400, "modelLoadMs must not be negative");
                }
                engine.modelLoadMs(loadMs);
            }
            if (body.path("unloadModel").asBoolean(false)) {
                engine.unload();
            }
            if (body.has("webui")) {
                forgeApi.webui(body.get("webui").asBoolean());
            }
            return Router.Response.json(state());
        });
        return r;
    }

    private ObjectNode state() {
        ObjectNode root = Json.object();
        ObjectNode api = root.putObject("api");
        api.put("up", server.apiUp());
        api.put("host", server.host());
        api.put("port", server.apiPort());
        api.put("adminPort", server.adminPort());
        api.put("webui", forgeApi.webui());
        ObjectNode settings = root.putObject("settings");
        settings.put("stepMs", engine.stepMs());
        settings.put("modelLoadMs", engine.modelLoadMs());
        ObjectNode ownLoads = settings.putObject("checkpointLoadMs");
        engine.checkpointLoadMs().forEach(ownLoads::put);
        root.set("faults", faults.describe());
        ObjectNode model = root.putObject("model");
        Catalog.Checkpoint loaded = engine.loadedCheckpoint();
        if (loaded == null) {
            model.putNull("loaded");
        } else {
            model.put("loaded", loaded.title());
        }
        model.put("selected", options.selectedCheckpoint());
        model.put("loads", engine.modelLoads());
        ObjectNode queue = root.putObject("queue");
        queue.put("busy", engine.busy());
        queue.put("waiting", engine.queued());
        String current = tasks.current();
        if (current == null) {
            queue.putNull("currentTask");
        } else {
            queue.put("currentTask", current);
        }
        queue.set("pendingTasks", tasks.pendingTasks().get("tasks"));
        queue.put("foreignRunning", engine.foreignRunning());
        root.set("txt2img", stats.snapshot(false, System.nanoTime()).get("txt2img"));
        return root;
    }

    private static JsonNode body(Router.Request req) {
        JsonNode body = req.json();
        if (body == null) {
            return Json.object();
        }
        if (!body.isObject()) {
            throw ApiError.http(400, "a JSON object is expected");
        }
        return body;
    }

    private static int intField(JsonNode body, String name, int fallback) {
        int value = body.path(name).asInt(fallback);
        if (value < 0) {
            throw ApiError.http(400, name + " must not be negative");
        }
        return value;
    }

    private static FaultPlan.Failure failure(JsonNode body) {
        String error = body.path("error").asString("RuntimeError");
        JsonNode message = body.get("message");
        return new FaultPlan.Failure(
                error,
                message == null || message.isNull() ? null : message.asString(),
                body.path("atStep").asInt(0));
    }
}
