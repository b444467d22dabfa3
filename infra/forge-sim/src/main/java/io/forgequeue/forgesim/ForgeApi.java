package io.forgequeue.forgesim;

import java.lang.management.ManagementFactory;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * Forge's HTTP API routes ({@code modules/api/api.py}) on top of the engine. Every {@code /sdapi/v1} route is
 * behind {@code --api-auth} when it is set; {@code /internal/*} and the extension route {@code /sdapi/v1/loras} are
 * not, as in Forge. {@code /internal/progress} and {@code /internal/pending-tasks} answer only in WebUI mode
 * ({@link #webui(boolean)}); in API-only mode ({@code --nowebui}) they are 404, as in Forge.
 */
final class ForgeApi {

    private static final Set<String> TRUE_WORDS = Set.of("1", "on", "t", "true", "y", "yes");

    private static final Set<String> FALSE_WORDS = Set.of("0", "off", "f", "false", "n", "no");

    private final Txt2ImgEngine engine;

    private final GenerationState state;

    private final TaskQueue tasks;

    private final Options options;

    private final Catalog catalog;

    private final SimStats stats;

    private final ApiAuth auth;

    private volatile boolean webui;

    ForgeApi(
            Txt2ImgEngine engine,
            GenerationState state,
            TaskQueue tasks,
            Options options,
            Catalog catalog,
            SimStats stats,
            ApiAuth auth) {
        this.engine = engine;
        this.state = state;
        this.tasks = tasks;
        this.options = options;
        this.catalog = catalog;
        this.stats = stats;
        this.auth = auth;
    }

    /** Switches WebUI mode (the {@code /internal/progress} and {@code /internal/pending-tasks} routes) on or off. */
    void webui(boolean on) {
        webui = on;
    }

    boolean webui() {
        return webui;
    }

    Router router() {
        Router r = new Router(this::checkAuth);
        String v1 = "/sdapi/v1/";
        r.post(v1 + "txt2img", true, this::txt2img);
        r.get(v1 + "progress", true, this::progress);
        r.post(v1 + "interrupt", true, req -> {
            state.interrupt();
            return Router.Response.json(Json.object());
        });
        r.post(v1 + "skip", true, req -> {
            state.skip();
            return Router.Response.json(Json.NODES.nullNode());
        });
        r.get(v1 + "options", true, req -> Router.Response.json(options.snapshot()));
        r.post(v1 + "options", true, this::setOptions);
        r.get(v1 + "sd-models", true, req -> Router.Response.json(sdModels()));
        r.get(v1 + "sd-modules", true, req -> Router.Response.json(sdModules()));
        r.get(v1 + "samplers", true, req -> Router.Response.json(samplers()));
        r.get(v1 + "schedulers", true, req -> Router.Response.json(schedulers()));
        r.get(v1 + "upscalers", true, req -> Router.Response.json(upscalers()));
        r.get(v1 + "latent-upscale-modes", true, req -> Router.Response.json(latentUpscaleModes()));
        r.get(v1 + "memory", true, req -> Router.Response.json(memory()));
        r.get(v1 + "prompt-styles", true, req -> Router.Response.json(Json.array()));
        r.get(v1 + "scripts", true, req -> Router.Response.json(scripts()));
        r.post(v1 + "unload-checkpoint", true, req -> {
            engine.unload();
            return Router.Response.json(Json.object());
        });
        r.post(v1 + "reload-checkpoint", true, req -> Router.Response.json(Json.object())); // a no-op in Forge
        r.post(v1 + "refresh-checkpoints", true, req -> Router.Response.json(Json.NODES.nullNode()));
        r.get(v1 + "loras", false, req -> Router.Response.json(Json.array())); // extension route: no auth
        r.get("/internal/ping", false, req -> Router.Response.json(Json.object()));
        r.post("/internal/progress", false, this::taskProgress);
        r.get("/internal/pending-tasks", false, req -> {
            requireWebui();
            return Router.Response.json(tasks.pendingTasks());
        });
        return r;
    }

    private void requireWebui() {
        if (!webui) {
            throw ApiError.http(404, "Not Found");
        }
    }

    /**
     * POST /internal/progress ({@code modules/progress.py progressapi}): the progress of one task by its id. A task
     * that does not hold the lock gets {@code active=false}, null progress and eta, and "In queue: i/n" or
     * "Waiting..."; the task that holds it gets the job's progress and, when asked, a newer live preview.
     */
    private Router.Response taskProgress(Router.Request request) {
        requireWebui();
        JsonNode body = request.json();
        if (body == null || !body.isObject()) {
            ArrayNode errors = Json.array();
            errors.add(
                    body == null
                            ? Txt2ImgRequest.error("missing", List.of("body"), "Field required", null)
                            : Txt2ImgRequest.error(
                                    "model_attributes_type",
                                    List.of("body"),
                                    "Input should be a valid dictionary or object to extract fields from",
                                    body));
            throw ApiError.validation(errors);
        }
        JsonNode idNode = body.get("id_task");
        String id = idNode == null || idNode.isNull() ? null : idNode.asString();
        int knownPreview = body.path("id_live_preview").asInt(-1);
        boolean livePreview = body.path("live_preview").asBoolean(true);
        boolean active = tasks.isActive(id);
        ObjectNode answer = Json.object();
        answer.put("active", active);
        answer.put("queued", tasks.isQueued(id));
        answer.put("completed", tasks.isCompleted(id));
        if (!active) {
            answer.putNull("progress");
            answer.putNull("eta");
            answer.putNull("live_preview");
            answer.put("id_live_preview", -1);
            answer.put("textinfo", tasks.queueText(id));
            return Router.Response.json(answer);
        }
        answer.setAll(
                state.taskProgress(livePreview, knownPreview, options.livePreviewsEnabled(), options.previewEvery()));
        return Router.Response.json(answer);
    }

    private ApiError checkAuth(Router.Request request) {
        if (auth == null) {
            return null;
        }
        String detail = auth.reject(request.header("Authorization"));
        return detail == null ? null : ApiError.http(401, detail, Map.of("WWW-Authenticate", "Basic"));
    }

    private Router.Response txt2img(Router.Request request) {
        Txt2ImgRequest body;
        try {
            body = Txt2ImgRequest.validate(request.json());
        } catch (ApiError e) {
            stats.rejected();
            throw e;
        }
        Txt2ImgEngine.Result result;
        try {
            result = engine.txt2img(body);
        } catch (ApiError e) {
            if (e.status() == 422) {
                stats.rejected();
            }
            throw e;
        }
        ObjectNode response = Json.object();
        ArrayNode images = response.putArray("images");
        result.images().forEach(images::add);
        response.set("parameters", result.parameters());
        response.put("info", result.info());
        return Router.Response.json(response);
    }

    private Router.Response progress(Router.Request request) {
        String raw = request.query().get("skip_current_image");
        boolean skip = false;
        if (raw != null) {
            String word = raw.strip().toLowerCase(Locale.ROOT);
            if (TRUE_WORDS.contains(word)) {
                skip = true;
            } else if (!FALSE_WORDS.contains(word)) {
                ArrayNode errors = Json.array();
                errors.add(Txt2ImgRequest.error(
                        "bool_parsing",
                        List.of("query", "skip_current_image"),
                        "Input should be a valid boolean, unable to interpret input",
                        Json.NODES.stringNode(raw)));
                throw ApiError.validation(errors);
            }
        }
        return Router.Response.json(state.progress(skip, options.livePreviewsEnabled(), options.previewEvery()));
    }

    /** Forge's set_config: checkpoint validated first (RuntimeError), then every key set (KeyError if unknown). */
    private Router.Response setOptions(Router.Request request) {
        JsonNode body = request.json();
        if (body == null || !body.isObject()) {
            ArrayNode errors = Json.array();
            if (body == null) {
                errors.add(Txt2ImgRequest.error("missing", List.of("body"), "Field required", null));
            } else {
                errors.add(
                        Txt2ImgRequest.error("dict_type", List.of("body"), "Input should be a valid dictionary", body));
            }
            throw ApiError.validation(errors);
        }
        JsonNode checkpoint = body.get("sd_model_checkpoint");
        if (checkpoint != null
                && !checkpoint.isNull()
                && (!checkpoint.isString() || catalog.checkpoint(checkpoint.stringValue()) == null)) {
            throw ApiError.python("RuntimeError", "model " + Options.pythonRepr(checkpoint) + " not found");
        }
        for (Map.Entry<String, JsonNode> e : body.properties()) {
            options.set(e.getKey(), e.getValue());
        }
        if (checkpoint != null && !checkpoint.isNull()) {
            Catalog.Checkpoint c = catalog.checkpoint(checkpoint.stringValue());
            options.restore("sd_checkpoint_hash", Json.NODES.stringNode(c.sha256()));
        }
        return Router.Response.json(Json.NODES.nullNode());
    }

    private ArrayNode sdModels() {
        ArrayNode list = Json.array();
        for (Catalog.Checkpoint c : catalog.checkpoints()) {
            ObjectNode m = list.addObject();
            m.put("title", c.title());
            m.put("model_name", c.modelName());
            m.put("hash", c.shorthash());
            m.put("sha256", c.sha256());
            m.put("filename", c.filename());
            m.putNull("config");
        }
        return list;
    }

    private static ArrayNode sdModules() {
        ArrayNode list = Json.array();
        for (String module : Catalog.MODULES) {
            ObjectNode m = list.addObject();
            m.put("model_name", module);
            m.put("filename", "/opt/forge/models/VAE/" + module);
        }
        return list;
    }

    private static ArrayNode samplers() {
        ArrayNode list = Json.array();
        for (Catalog.Sampler s : Catalog.SAMPLERS) {
            ObjectNode o = list.addObject();
            o.put("name", s.name());
            ArrayNode aliases = o.putArray("aliases");
            s.aliases().forEach(aliases::add);
            o.set("options", Json.objectOf(s.options()));
        }
        return list;
    }

    private static ArrayNode schedulers() {
        ArrayNode list = Json.array();
        for (Catalog.Scheduler s : Catalog.SCHEDULERS) {
            ObjectNode o = list.addObject();
            o.put("name", s.name());
            o.put("label", s.label());
            if (s.aliases() == null) {
                o.putNull("aliases");
            } else {
                ArrayNode aliases = o.putArray("aliases");
                s.aliases().forEach(aliases::add);
            }
            o.put("default_rho", s.defaultRho());
            o.put("need_inner_model", s.needInnerModel());
        }
        return list;
    }

    private static ArrayNode upscalers() {
        ArrayNode list = Json.array();
        for (String name : List.of(
                "None",
                "Lanczos",
                "Nearest",
                "DAT x2",
                "DAT x3",
                "DAT x4",
                "ESRGAN_4x",
                "LDSR",
                "R-ESRGAN 4x+",
                "R-ESRGAN 4x+ Anime6B",
                "ScuNET",
                "ScuNET PSNR",
                "SwinIR_4x")) {
            ObjectNode o = list.addObject();
            o.put("name", name);
            o.putNull("model_name");
            o.putNull("model_path");
            o.putNull("model_url");
            o.put("scale", 4.0);
        }
        return list;
    }

    private static ArrayNode latentUpscaleModes() {
        ArrayNode list = Json.array();
        for (String name : List.of(
                "Latent",
                "Latent (antialiased)",
                "Latent (bicubic)",
                "Latent (bicubic antialiased)",
                "Latent (nearest)",
                "Latent (nearest-exact)")) {
            list.addObject().put("name", name);
        }
        return list;
    }

    private static ObjectNode scripts() {
        ObjectNode o = Json.object();
        ArrayNode t2i = o.putArray("txt2img");
        Catalog.SELECTABLE_SCRIPTS.forEach(t2i::add);
        Catalog.ALWAYSON_SCRIPTS.forEach(t2i::add);
        ArrayNode i2i = o.putArray("img2img");
        Catalog.SELECTABLE_SCRIPTS.forEach(i2i::add);
        return o;
    }

    /** GET /memory: real RAM figures of this JVM's machine, a simulated 24 GiB GPU. */
    private ObjectNode memory() {
        ObjectNode body = Json.object();
        ObjectNode ram = body.putObject("ram");
        long total;
        long free;
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            total = os.getTotalMemorySize();
            free = os.getFreeMemorySize();
        } else {
            total = Runtime.getRuntime().maxMemory();
            free = Runtime.getRuntime().freeMemory();
        }
        ram.put("free", (double) free);
        ram.put("used", (double) (total - free));
        ram.put("total", (double) total);

        long gpuTotal = 25_757_220_864L;
        long modelBytes = engine.loadedCheckpoint() == null ? 0 : 7_100_000_000L;
        long working = engine.busy() ? 3_200_000_000L : 0;
        long allocated = modelBytes + working;
        long reserved = allocated + (allocated > 0 ? 512L * 1024 * 1024 : 0);
        ObjectNode cuda = body.putObject("cuda");
        ObjectNode system = cuda.putObject("system");
        system.put("free", gpuTotal - reserved - 600_000_000L);
        system.put("used", reserved + 600_000_000L);
        system.put("total", gpuTotal);
        cuda.putObject("active")
                .put("current", allocated)
                .put("peak", Math.max(allocated, modelBytes + 3_200_000_000L));
        cuda.putObject("allocated")
                .put("current", allocated)
                .put("peak", Math.max(allocated, modelBytes + 3_200_000_000L));
        cuda.putObject("reserved")
                .put("current", reserved)
                .put("peak", Math.max(reserved, modelBytes + 3_700_000_000L));
        cuda.putObject("inactive").put("current", reserved - allocated).put("peak", 1_073_741_824L);
        cuda.putObject("events").put("retries", 0).put("oom", engine.ooms());
        return body;
    }
}
