package io.forgequeue.forgesim;

import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * The "GPU": runs txt2img jobs one at a time behind a fair (FIFO) queue lock, like Forge's {@code queue_lock},
 * taking {@code steps x stepMs} per batch plus {@code modelLoadMs} whenever the wanted checkpoint is not the loaded
 * one, while updating {@link GenerationState} as Forge's sampler callbacks do. Interrupt and skip are honoured at
 * step boundaries. Pictures are rendered and PNG-encoded after the lock is released, as Forge encodes after
 * leaving {@code queue_lock}. Thread-safe.
 */
final class Txt2ImgEngine {

    /** Thrown when a call is abandoned because the API went down or the sim stops: no answer is sent. */
    static final class Aborted extends RuntimeException {

        Aborted() {
            super("forge-sim went down", null, false, false);
        }
    }

    /** The finished call: the base64 images and the echo/info parts of Forge's TextToImageResponse. */
    record Result(List<String> images, ObjectNode parameters, String info) {
    }

    private record ImagePlan(ImageRenderer.Spec spec, String infotext) {
    }

    /**
     * Who sends a call. API clients use {@link #API}; the admin API's foreign jobs may stand for a person using the
     * web UI: then Forge's UI wrapper runs the job ({@code state.job} = the task id, the flags reset when it ends,
     * the task finished even after an error).
     *
     * @param ui         whether the call stands for a web UI job
     * @param holdAtStep hold the call after this many sampling steps until released, or -1 (else a counted hold
     *                   fault may; the hold fault for every call applies in any case)
     */
    record Origin(boolean ui, int holdAtStep) {

        static final Origin API = new Origin(false, -1);
    }

    /**
     * The faults one call suffers: a failure (or null), its hold, the step it is interrupted at (or -1), and whether
     * it ignores the checkpoint it asks for ({@code pinModel}: the loaded one runs).
     */
    private record CallFaults(FaultPlan.Failure failure, FaultPlan.CallHold hold, int interruptAt, boolean pinModel) {
    }

    private static final List<String> UPSCALERS = List.of("Latent", "Latent (antialiased)", "Latent (bicubic)",
            "Latent (bicubic antialiased)", "Latent (nearest)", "Latent (nearest-exact)", "None", "Lanczos", "Nearest",
            "DAT x2", "DAT x3", "DAT x4", "ESRGAN_4x", "LDSR", "R-ESRGAN 4x+", "R-ESRGAN 4x+ Anime6B", "ScuNET",
            "ScuNET PSNR", "SwinIR_4x");

    private static final int MAX_PIXELS_PER_BATCH = 4096 * 4096;

    private static final System.Logger LOG = System.getLogger("forge-sim");

    private final ReentrantLock queueLock = new ReentrantLock(true);

    private final GenerationState state;

    private final TaskQueue tasks;

    private final Options options;

    private final Catalog catalog;

    private final FaultPlan faults;

    private final SimStats stats;

    private final Set<Thread> activeCalls = ConcurrentHashMap.newKeySet();

    private final AtomicLong epoch = new AtomicLong();

    private final Object modelMonitor = new Object();

    private volatile long stepNanos;

    private volatile long modelLoadNanos;

    /** Load times of the checkpoints that have their own ({@code --checkpoint-load-ms}); others take modelLoadNanos. */
    private volatile Map<Catalog.Checkpoint, Long> checkpointLoadNanos = Map.of();

    private volatile Catalog.Checkpoint loaded;

    private final AtomicLong modelLoads = new AtomicLong();

    private final AtomicLong ooms = new AtomicLong();

    private final AtomicInteger foreignRunning = new AtomicInteger();

    private final AtomicInteger foreignThreads = new AtomicInteger();

    Txt2ImgEngine(GenerationState state, TaskQueue tasks, Options options, Catalog catalog, FaultPlan faults, SimStats stats,
            double stepMs, long modelLoadMs) {
        this.state = state;
        this.tasks = tasks;
        this.options = options;
        this.catalog = catalog;
        this.faults = faults;
        this.stats = stats;
        stepMs(stepMs);
        modelLoadMs(modelLoadMs);
    }

    void stepMs(double ms) {
        this.stepNanos = (long) (ms * 1_000_000);
    }

    void modelLoadMs(long ms) {
        this.modelLoadNanos = ms * 1_000_000;
    }

    /** Own load times for some checkpoints (keys: any alias the catalog knows), replacing earlier ones. */
    void checkpointLoadMs(Map<String, Long> loadMs) {
        Map<Catalog.Checkpoint, Long> nanos = new java.util.HashMap<>();
        loadMs.forEach((alias, ms) -> nanos.put(Objects.requireNonNull(catalog.checkpoint(alias), alias), ms * 1_000_000));
        this.checkpointLoadNanos = Map.copyOf(nanos);
    }

    /** The own load times, by checkpoint title, in milliseconds. */
    Map<String, Long> checkpointLoadMs() {
        Map<String, Long> out = new java.util.TreeMap<>();
        checkpointLoadNanos.forEach((c, nanos) -> out.put(c.title(), nanos / 1_000_000));
        return out;
    }

    double stepMs() {
        return stepNanos / 1e6;
    }

    long modelLoadMs() {
        return modelLoadNanos / 1_000_000;
    }

    Catalog.Checkpoint loadedCheckpoint() {
        return loaded;
    }

    long modelLoads() {
        return modelLoads.get();
    }

    long ooms() {
        return ooms.get();
    }

    /** Starts with {@code checkpoint} loaded (the {@code --loaded} flag): no job pays for it, no load is counted. */
    void preload(Catalog.Checkpoint checkpoint) {
        synchronized (modelMonitor) {
            loaded = checkpoint;
        }
    }

    /** POST /unload-checkpoint: the next job loads its checkpoint again. */
    void unload() {
        synchronized (modelMonitor) {
            loaded = null;
        }
    }

    boolean busy() {
        return queueLock.isLocked();
    }

    int queued() {
        return queueLock.getQueueLength();
    }

    /**
     * Abandons every call in progress (running, waiting for the lock, or hung): they end with {@link Aborted} and
     * their connections get no answer. Used when the API goes down and when the sim stops.
     */
    void abortAll() {
        epoch.incrementAndGet();
        synchronized (activeCalls) {
            activeCalls.forEach(Thread::interrupt);
        }
    }

    /** Foreign jobs (started through the admin API) that have not ended yet. */
    int foreignRunning() {
        return foreignRunning.get();
    }

    /**
     * Starts a job as another client of this Forge would (a second API client, or a person in the web UI), on its
     * own thread, and returns its task id at once. It takes its place in the queue like any call.
     */
    String startForeign(Txt2ImgRequest request, Origin origin) {
        String given = request.string("force_task_id");
        String taskId = given == null || given.isEmpty() ? TaskQueue.newTaskId(origin.ui() ? "ui" : "txt2img") : given;
        Txt2ImgRequest withId = request.with("force_task_id", Json.NODES.stringNode(taskId));
        foreignRunning.incrementAndGet();
        Thread thread = new Thread(() -> {
            try {
                txt2img(withId, origin);
            }
            catch (Aborted | ApiError e) {
                LOG.log(System.Logger.Level.DEBUG, "foreign job {0} ended without an answer: {1}", taskId, e.toString());
            }
            finally {
                foreignRunning.decrementAndGet();
            }
        }, "forge-sim-foreign-" + foreignThreads.incrementAndGet());
        thread.setDaemon(true);
        thread.start();
        return taskId;
    }

    /** POST /sdapi/v1/txt2img, from a validated request to the response parts. */
    Result txt2img(Txt2ImgRequest request) {
        return txt2img(request, Origin.API);
    }

    private Result txt2img(Txt2ImgRequest request, Origin origin) {
        stats.received();
        Txt2ImgRequest p = applyInfotext(request);
        checkScripts(p);
        Catalog.SamplerChoice choice = Catalog.samplerAndScheduler(
                orNull(p.string("sampler_name"), p.string("sampler_index")), p.string("scheduler"), true);
        String scheduler = p.string("scheduler");
        if ((scheduler == null || scheduler.isEmpty()) && !"Automatic".equals(choice.scheduler())) {
            scheduler = choice.scheduler();
        }
        // fix_p_invalid_sampler_and_scheduler inside process_images
        Catalog.SamplerChoice fixed = Catalog.samplerAndScheduler(choice.sampler(), scheduler, false);

        String forcedId = p.string("force_task_id");
        String taskId = forcedId == null || forcedId.isEmpty() ? TaskQueue.newTaskId("txt2img") : forcedId;
        long myEpoch = epoch.get();
        List<ImagePlan> plans;
        ObjectNode info;
        boolean interrupted;
        boolean skipped;
        register();
        tasks.add(taskId);
        try {
            if (faults.takeHang()) {
                stats.hung();
                faults.awaitRelease();
            }
            checkEpoch(myEpoch);
            queueLock.lockInterruptibly();
            try {
                stats.busyStart(System.nanoTime());
                try {
                    // api.py text2imgapi: begin, start_task, process, finish_task (only on success), end;
                    // call_queue.wrap_gradio_gpu_call for UI jobs: the task finishes in any case, the flags reset
                    state.begin(origin.ui() ? taskId : "scripts_txt2img");
                    tasks.start(taskId);
                    try {
                        JobOutcome outcome = runJob(p, fixed, myEpoch, origin);
                        plans = outcome.plans();
                        info = outcome.info();
                        interrupted = state.interrupted();
                        skipped = outcome.anySkipped();
                        if (!origin.ui()) {
                            tasks.finish(taskId);
                        }
                    }
                    finally {
                        if (origin.ui()) {
                            tasks.finish(taskId);
                        }
                        state.end();
                        if (origin.ui()) {
                            state.endUiJob();
                        }
                    }
                }
                finally {
                    stats.busyEnd(System.nanoTime());
                }
            }
            finally {
                queueLock.unlock();
            }
        }
        catch (InterruptedException e) {
            stats.aborted();
            tasks.forget(taskId);
            throw new Aborted();
        }
        catch (Aborted e) {
            stats.aborted();
            tasks.forget(taskId);
            throw e;
        }
        catch (ApiError e) {
            stats.failed();
            throw e;
        }
        finally {
            unregister();
        }

        List<String> images = p.flag("send_images") ? encode(plans) : List.of();
        stats.completed(interrupted, skipped);
        return new Result(images, p.parameters(), Json.pythonDumps(info));
    }

    private record JobOutcome(List<ImagePlan> plans, ObjectNode info, boolean anySkipped) {
    }

    /** Everything between {@code state.begin()} and {@code state.end()}: Forge's process_images. */
    private JobOutcome runJob(Txt2ImgRequest p, Catalog.SamplerChoice choice, long myEpoch, Origin origin) {
        FaultPlan.Failure failure = faults.takeFailure();
        if (failure != null && failure.atStep() == 0) {
            throw fail(failure);
        }
        CallFaults callFaults = new CallFaults(failure, faults.takeHold(origin.holdAtStep()), faults.takeInterrupt(),
                faults.takeIgnoreOverride());

        // override_settings: an unknown checkpoint is dropped silently; an unknown key is a KeyError
        Map<String, JsonNode> overrides = new LinkedHashMap<>();
        JsonNode overrideNode = p.node("override_settings");
        if (overrideNode != null) {
            overrideNode.properties().forEach(e -> overrides.put(e.getKey(), e.getValue()));
        }
        Map<String, JsonNode> stored = new LinkedHashMap<>();
        overrides.keySet().forEach(k -> {
            if (options.has(k)) {
                stored.put(k, options.get(k));
            }
        });
        try {
            JsonNode wantedCheckpoint = overrides.get("sd_model_checkpoint");
            if (callFaults.pinModel()) {
                // the "ignore override" fault: Forge runs what it has (issues #1940, #1610) and says so in info
                overrides.remove("sd_model_checkpoint");
                keepLoaded(myEpoch);
            }
            else if (wantedCheckpoint == null || !wantedCheckpoint.isString() || catalog.checkpoint(wantedCheckpoint.stringValue()) == null) {
                overrides.remove("sd_model_checkpoint");
                ensureLoaded(myEpoch);
            }
            for (Map.Entry<String, JsonNode> e : overrides.entrySet()) {
                options.set(e.getKey(), e.getValue());
                if (e.getKey().equals("sd_model_checkpoint")) {
                    ensureLoaded(myEpoch);
                }
            }
            return processImages(p, choice, callFaults, myEpoch);
        }
        finally {
            if (p.flag("override_settings_restore_afterwards")) {
                stored.forEach(options::restore);
            }
        }
    }

    /** Forge's process_images_inner. */
    private JobOutcome processImages(Txt2ImgRequest p, Catalog.SamplerChoice choice, CallFaults failure, long myEpoch) {
        int batchSize = (int) Math.min(Integer.MAX_VALUE, Math.max(0, p.integer("batch_size")));
        int nIter = (int) Math.min(Integer.MAX_VALUE, Math.max(0, p.integer("n_iter")));
        int steps = (int) Math.min(100_000, p.integer("steps"));
        int width = (int) Math.min(Integer.MAX_VALUE, p.integer("width"));
        int height = (int) Math.min(Integer.MAX_VALUE, p.integer("height"));
        if (batchSize == 0 || nIter == 0) {
            throw ApiError.python("IndexError", "list index out of range");
        }
        if (steps < 1) {
            throw ApiError.python("RuntimeError", "forge-sim: steps must be at least 1");
        }
        if (width < 8 || height < 8 || width > 8192 || height > 8192) {
            throw ApiError.python("RuntimeError", "forge-sim: width and height must be within 8..8192");
        }
        if ((long) batchSize * nIter > 10_000) {
            throw ApiError.python("RuntimeError", "forge-sim: at most 10000 images per call");
        }
        boolean hires = p.flag("enable_hr");
        int hrWidth = width;
        int hrHeight = height;
        int hrSteps = 0;
        Map<String, Object> extra = new LinkedHashMap<>();
        Catalog.Checkpoint hrCheckpoint = null;
        if (hires) {
            extra.put("Denoising strength", p.number("denoising_strength"));
            String hrName = p.string("hr_checkpoint_name");
            if (hrName != null && !hrName.isEmpty() && !hrName.equals("Use same checkpoint")) {
                hrCheckpoint = closestCheckpoint(hrName);
                if (hrCheckpoint == null) {
                    throw ApiError.python("Exception", "Could not find checkpoint with name " + hrName);
                }
                extra.put("Hires checkpoint", hrCheckpoint.title());
            }
            String upscaler = p.string("hr_upscaler");
            if (upscaler != null && !UPSCALERS.contains(upscaler)) {
                throw ApiError.python("Exception", "could not find upscaler named " + upscaler);
            }
            long rx = p.integer("hr_resize_x");
            long ry = p.integer("hr_resize_y");
            if (rx == 0 && ry == 0) {
                extra.put("Hires upscale", p.number("hr_scale"));
                hrWidth = (int) (width * p.number("hr_scale"));
                hrHeight = (int) (height * p.number("hr_scale"));
            }
            else {
                extra.put("Hires resize", rx + "x" + ry);
                if (ry == 0) {
                    hrWidth = (int) rx;
                    hrHeight = (int) (rx * height / width);
                }
                else if (rx == 0) {
                    hrWidth = (int) (ry * width / height);
                    hrHeight = (int) ry;
                }
                else {
                    hrWidth = (int) rx;
                    hrHeight = (int) ry;
                }
            }
            hrSteps = p.integer("hr_second_pass_steps") > 0 ? (int) p.integer("hr_second_pass_steps") : steps;
            if (p.integer("hr_second_pass_steps") > 0) {
                extra.put("Hires steps", p.integer("hr_second_pass_steps"));
            }
            if (upscaler != null) {
                extra.put("Hires upscaler", upscaler);
            }
            if (hrWidth < 8 || hrHeight < 8 || hrWidth > 8192 || hrHeight > 8192) {
                throw ApiError.python("RuntimeError", "forge-sim: hires size must be within 8..8192");
            }
        }
        if ((long) Math.max(width * (long) height, hrWidth * (long) hrHeight) * batchSize > MAX_PIXELS_PER_BATCH) {
            ooms.incrementAndGet();
            throw ApiError.python("OutOfMemoryError", FaultPlan.defaultMessage("OutOfMemoryError"));
        }

        long seed = fixedSeed(p.node("seed"));
        long subseed = fixedSeed(p.node("subseed"));
        double subseedStrength = p.number("subseed_strength");
        int total = batchSize * nIter;
        String prompt = p.string("prompt");
        String negative = p.string("negative_prompt");
        List<Long> allSeeds = new ArrayList<>(total);
        List<Long> allSubseeds = new ArrayList<>(total);
        for (int i = 0; i < total; i++) {
            allSeeds.add(seed + (subseedStrength == 0 ? i : 0));
            allSubseeds.add(subseed + i);
        }
        Catalog.Checkpoint model = loaded;
        String scheduleLabel = Catalog.effectiveScheduleLabel(choice.sampler(), choice.scheduler());
        if (!"Automatic".equals(scheduleLabel)) {
            extra.put("Schedule type", scheduleLabel);
        }
        if (model != null && model.isFlux()) {
            extra.put("Distilled CFG Scale", p.number("distilled_cfg_scale"));
        }
        InfotextContext ctx = new InfotextContext(p, choice, model, width, height, extra, allSeeds, allSubseeds);

        state.setJobCount(hires ? nIter * 2 : nIter);
        List<ImagePlan> outputs = new ArrayList<>();
        List<String> infotexts = new ArrayList<>();
        boolean anySkipped = false;
        int[] stepCounter = {0};
        for (int n = 0; n < nIter; n++) {
            if (state.skipped()) {
                state.clearSkip();
            }
            if (state.interrupted() || state.stoppingGeneration()) {
                break;
            }
            if (failure.pinModel()) {
                keepLoaded(myEpoch);
            }
            else {
                ensureLoaded(myEpoch);
            }
            if (nIter > 1) {
                state.setJob("Batch " + (n + 1) + " out of " + nIter);
            }
            long firstSeed = allSeeds.get(n * batchSize);
            int done = sample(steps, new ImageRenderer.Spec(prompt, firstSeed, width, height, 1), failure, stepCounter, myEpoch);
            anySkipped |= state.skipped();
            double completion = (double) done / steps;
            int outW = width;
            int outH = height;
            if (hires && !state.interrupted()) {
                state.nextJob(options.livePreviewsEnabled(), options.previewEvery());
                if (hrCheckpoint != null && hrCheckpoint != loaded) {
                    loadCheckpoint(hrCheckpoint, myEpoch);
                }
                int hrDone = sample(hrSteps, new ImageRenderer.Spec(prompt, firstSeed, hrWidth, hrHeight, 1), failure, stepCounter, myEpoch);
                anySkipped |= state.skipped();
                completion = (completion + (double) hrDone / hrSteps) / 2;
                outW = hrWidth;
                outH = hrHeight;
            }
            if (done > 0) {
                for (int i = 0; i < batchSize; i++) {
                    int index = n * batchSize + i;
                    String text = ctx.infotext(index);
                    outputs.add(new ImagePlan(new ImageRenderer.Spec(prompt, allSeeds.get(index), outW, outH, completion), text));
                    infotexts.add(text);
                }
            }
            state.nextJob(options.livePreviewsEnabled(), options.previewEvery());
        }
        if (infotexts.isEmpty()) {
            infotexts.add(ctx.infotext(0));
        }

        int indexOfFirstImage = 0;
        boolean unwantedGrid = outputs.size() < 2 && options.bool("grid_only_if_multiple");
        if (options.bool("return_grid") && p.flag("save_images") && !unwantedGrid && !outputs.isEmpty()) {
            String gridText = ctx.infotext(0);
            outputs.add(0, new ImagePlan(null, gridText));
            infotexts.add(0, gridText);
            indexOfFirstImage = 1;
        }
        ObjectNode info = ctx.processedJs(indexOfFirstImage, infotexts, state.jobTimestamp());
        return new JobOutcome(outputs, info, anySkipped);
    }

    /**
     * One sampling pass; returns the number of steps completed before an interrupt or skip stopped it. The call's
     * injected faults act at the step counted over the whole call: held (lock kept, state visible) or interrupted
     * after that many steps, failed at it.
     */
    private int sample(int steps, ImageRenderer.Spec source, CallFaults callFaults, int[] stepCounter, long myEpoch) {
        state.startSampling(steps, source);
        long deadline = System.nanoTime();
        int done = 0;
        for (int k = 1; k <= steps; k++) {
            if (stepCounter[0] == callFaults.interruptAt()) {
                state.interrupt(); // as another client's POST /interrupt at this moment
            }
            if (hold(callFaults.hold(), stepCounter[0], myEpoch)) {
                deadline = System.nanoTime(); // the steps after a hold take their own time again
            }
            if (state.interrupted() || state.skipped()) {
                break; // the denoiser checks the flags before each step and returns the last latent
            }
            long step = stepNanos;
            if (step > 0) {
                deadline += step;
                waitUntil(deadline, myEpoch);
            }
            else {
                checkEpoch(myEpoch);
            }
            done = k;
            state.stepDone(k - 1);
            stepCounter[0]++;
            FaultPlan.Failure failure = callFaults.failure();
            if (failure != null && stepCounter[0] == failure.atStep()) {
                throw fail(failure);
            }
        }
        return done;
    }

    /**
     * Holds the call here, after {@code steps} sampling steps, with the queue lock and its state visible, when its
     * own hold or the hold fault for every call says so (see {@link FaultPlan}); returns whether it was held.
     */
    private boolean hold(FaultPlan.CallHold hold, int steps, long myEpoch) {
        boolean held;
        try {
            held = faults.holdAt(hold, steps, stats::held, () -> state.interrupted() || state.skipped());
        }
        catch (InterruptedException e) {
            throw new Aborted();
        }
        if (held) {
            checkEpoch(myEpoch);
        }
        return held;
    }

    private ApiError fail(FaultPlan.Failure failure) {
        if (failure.error().equals("OutOfMemoryError")) {
            ooms.incrementAndGet();
        }
        return ApiError.python(failure.error(), failure.message());
    }

    /** Forge's per-iteration {@code reload_model_weights()}: loads the selected checkpoint if it is not loaded. */
    private void ensureLoaded(long myEpoch) {
        Catalog.Checkpoint wanted = catalog.checkpoint(options.selectedCheckpoint());
        if (wanted == null) {
            wanted = catalog.checkpoints().get(0);
        }
        if (wanted != loaded) {
            loadCheckpoint(wanted, myEpoch);
        }
    }

    /** The "ignore override" fault: whatever is loaded stays; only when nothing is, the selected one is loaded. */
    private void keepLoaded(long myEpoch) {
        if (loaded == null) {
            ensureLoaded(myEpoch);
        }
    }

    private void loadCheckpoint(Catalog.Checkpoint wanted, long myEpoch) {
        long wait = checkpointLoadNanos.getOrDefault(wanted, modelLoadNanos);
        long start = System.nanoTime();
        if (wait > 0) {
            waitUntil(start + wait, myEpoch);
        }
        synchronized (modelMonitor) {
            loaded = wanted;
        }
        modelLoads.incrementAndGet();
        stats.modelLoaded(System.nanoTime() - start);
    }

    private Catalog.Checkpoint closestCheckpoint(String name) {
        Catalog.Checkpoint exact = catalog.checkpoint(name);
        if (exact != null) {
            return exact;
        }
        for (Catalog.Checkpoint c : catalog.checkpoints()) {
            if (c.title().contains(name)) {
                return c;
            }
        }
        return null;
    }

    private void waitUntil(long deadline, long myEpoch) {
        while (true) {
            checkEpoch(myEpoch);
            long remaining = deadline - System.nanoTime();
            if (remaining <= 0) {
                return;
            }
            LockSupport.parkNanos(remaining);
            if (Thread.currentThread().isInterrupted()) {
                throw new Aborted();
            }
        }
    }

    private void checkEpoch(long myEpoch) {
        if (epoch.get() != myEpoch || Thread.currentThread().isInterrupted()) {
            throw new Aborted();
        }
    }

    private void register() {
        synchronized (activeCalls) {
            activeCalls.add(Thread.currentThread());
        }
    }

    private void unregister() {
        synchronized (activeCalls) {
            activeCalls.remove(Thread.currentThread());
        }
        Thread.interrupted(); // an abort aimed at this call must not leak into the pool thread's next request
    }

    private static long fixedSeed(JsonNode seed) {
        long value = seed == null ? -1 : seed.longValue();
        return value == -1 ? ThreadLocalRandom.current().nextLong(4294967294L) : value;
    }

    private static String orNull(String first, String second) {
        return first != null && !first.isEmpty() ? first : second;
    }

    /** script_name and alwayson_scripts are checked before the job is queued, as Forge does (422). */
    private static void checkScripts(Txt2ImgRequest p) {
        String script = p.string("script_name");
        if (script != null && !script.isEmpty() && !Catalog.SELECTABLE_SCRIPTS.contains(script.toLowerCase())) {
            throw ApiError.http(422, "Script '" + script + "' not found");
        }
        JsonNode alwaysOn = p.node("alwayson_scripts");
        if (alwaysOn != null) {
            for (String title : alwaysOn.propertyNames()) {
                String lower = title.toLowerCase();
                if (Catalog.SELECTABLE_SCRIPTS.contains(lower)) {
                    throw ApiError.http(422, "Cannot have a selectable script in the always on scripts params");
                }
                if (!Catalog.ALWAYSON_SCRIPTS.contains(lower)) {
                    throw ApiError.http(422, "always on script " + title + " not found");
                }
            }
        }
    }

    /** Forge's apply_infotext: fields found in {@code infotext} fill only the fields the client did not send. */
    private static Txt2ImgRequest applyInfotext(Txt2ImgRequest request) {
        String text = request.string("infotext");
        if (text == null || text.isEmpty()) {
            return request;
        }
        Map<String, String> params = Infotext.parse(text);
        String[][] mapping = {
                {"Prompt", "prompt"}, {"Negative prompt", "negative_prompt"}, {"Steps", "steps"},
                {"Sampler", "sampler_name"}, {"Schedule type", "scheduler"}, {"CFG scale", "cfg_scale"},
                {"Distilled CFG Scale", "distilled_cfg_scale"}, {"Seed", "seed"}, {"Size-1", "width"},
                {"Size-2", "height"}, {"Variation seed", "subseed"}, {"Variation seed strength", "subseed_strength"},
                {"Denoising strength", "denoising_strength"}};
        Txt2ImgRequest result = request;
        for (String[] m : mapping) {
            String value = params.get(m[0]);
            if (value == null || value.isEmpty() || request.isExplicit(m[1])) {
                continue;
            }
            Txt2ImgRequest.Field field = Txt2ImgRequest.FIELDS.stream().filter(f -> f.name().equals(m[1])).findFirst().orElseThrow();
            try {
                JsonNode converted = switch (field.kind()) {
                    case INT -> Json.NODES.numberNode(Long.parseLong(value.strip()));
                    case FLOAT -> Json.NODES.numberNode(Double.parseDouble(value.strip()));
                    default -> Json.NODES.stringNode(value);
                };
                result = result.with(m[1], converted);
            }
            catch (NumberFormatException e) {
                throw ApiError.python("ValueError", "invalid literal for " + field.kind().name().toLowerCase() + "(): " + Options.pythonRepr(value));
            }
        }
        return result;
    }

    /** Renders and PNG-encodes the planned images (grid first when planned). */
    private static List<String> encode(List<ImagePlan> plans) {
        List<String> out = new ArrayList<>(plans.size());
        List<byte[]> pixels = new ArrayList<>();
        ImagePlan grid = null;
        for (ImagePlan plan : plans) {
            if (plan.spec() == null) {
                grid = plan;
                continue;
            }
            pixels.add(ImageRenderer.render(plan.spec()));
        }
        Base64.Encoder b64 = Base64.getEncoder();
        int pixelIndex = 0;
        List<ImagePlan> imagePlans = plans.stream().filter(pl -> pl.spec() != null).toList();
        if (grid != null && !imagePlans.isEmpty()) {
            ImageRenderer.Spec first = imagePlans.get(0).spec();
            int n = imagePlans.size();
            int rows = (int) Math.round(Math.sqrt(n));
            rows = Math.max(1, Math.min(rows, n));
            int cols = (n + rows - 1) / rows;
            byte[] gridPixels = ImageRenderer.grid(pixels, first.width(), first.height(), rows, cols);
            out.add(b64.encodeToString(PngEncoder.encode(gridPixels, first.width() * cols, first.height() * rows, grid.infotext())));
        }
        for (ImagePlan plan : imagePlans) {
            ImageRenderer.Spec s = plan.spec();
            out.add(b64.encodeToString(PngEncoder.encode(pixels.get(pixelIndex++), s.width(), s.height(), plan.infotext())));
        }
        return out;
    }

    /** What create_infotext and Processed.js need about one job. */
    private final class InfotextContext {

        private final Txt2ImgRequest p;

        private final Catalog.SamplerChoice choice;

        private final Catalog.Checkpoint model;

        private final int width;

        private final int height;

        private final Map<String, Object> extra;

        private final List<Long> allSeeds;

        private final List<Long> allSubseeds;

        InfotextContext(Txt2ImgRequest p, Catalog.SamplerChoice choice, Catalog.Checkpoint model, int width, int height,
                Map<String, Object> extra, List<Long> allSeeds, List<Long> allSubseeds) {
            this.p = p;
            this.choice = choice;
            this.model = model;
            this.width = width;
            this.height = height;
            this.extra = extra;
            this.allSeeds = allSeeds;
            this.allSubseeds = allSubseeds;
        }

        String infotext(int index) {
            Map<String, Object> params = new LinkedHashMap<>();
            params.put("Steps", p.integer("steps"));
            params.put("Sampler", choice.sampler());
            params.put("Schedule type", choice.scheduler());
            params.put("CFG scale", p.number("cfg_scale"));
            params.put("Seed", allSeeds.get(index));
            params.put("Size", width + "x" + height);
            params.put("Model hash", model == null ? null : model.shorthash());
            params.put("Model", model == null ? null : model.nameForExtra());
            double strength = p.number("subseed_strength");
            params.put("Variation seed", strength == 0 ? null : allSubseeds.get(index));
            params.put("Variation seed strength", strength == 0 ? null : strength);
            long rw = p.integer("seed_resize_from_w");
            long rh = p.integer("seed_resize_from_h");
            params.put("Seed resize from", rw <= 0 || rh <= 0 ? null : rw + "x" + rh);
            params.put("Denoising strength", extra.get("Denoising strength"));
            int clipSkip = options.integer("CLIP_stop_at_last_layers", 1);
            params.put("Clip skip", clipSkip <= 1 ? null : clipSkip);
            params.put("Tiling", p.flag("tiling") ? "True" : null);
            params.putAll(extra);
            params.put("Version", Infotext.VERSION);
            return Infotext.build(p.string("prompt"), p.string("negative_prompt"), params);
        }

        ObjectNode processedJs(int indexOfFirstImage, List<String> infotexts, String jobTimestamp) {
            int total = allSeeds.size();
            ObjectNode o = Json.object();
            String prompt = p.string("prompt");
            String negative = p.string("negative_prompt");
            o.put("prompt", prompt);
            ArrayNode prompts = o.putArray("all_prompts");
            for (int i = 0; i < total; i++) {
                prompts.add(prompt);
            }
            o.put("negative_prompt", negative);
            ArrayNode negatives = o.putArray("all_negative_prompts");
            for (int i = 0; i < total; i++) {
                negatives.add(negative);
            }
            o.put("seed", allSeeds.get(0));
            ArrayNode seeds = o.putArray("all_seeds");
            allSeeds.forEach(seeds::add);
            o.put("subseed", allSubseeds.get(0));
            ArrayNode subseeds = o.putArray("all_subseeds");
            allSubseeds.forEach(subseeds::add);
            o.put("subseed_strength", p.number("subseed_strength"));
            o.put("width", width);
            o.put("height", height);
            o.put("sampler_name", choice.sampler());
            o.put("cfg_scale", p.number("cfg_scale"));
            o.put("steps", p.integer("steps"));
            o.put("batch_size", p.integer("batch_size"));
            o.put("restore_faces", options.bool("face_restoration"));
            o.putNull("face_restoration_model");
            if (model == null) {
                o.putNull("sd_model_name");
                o.putNull("sd_model_hash");
            }
            else {
                o.put("sd_model_name", model.nameForExtra());
                o.put("sd_model_hash", model.shorthash());
            }
            o.putNull("sd_vae_name");
            o.putNull("sd_vae_hash");
            o.put("seed_resize_from_w", p.integer("seed_resize_from_w"));
            o.put("seed_resize_from_h", p.integer("seed_resize_from_h"));
            o.put("denoising_strength", p.number("denoising_strength"));
            o.set("extra_generation_params", Json.objectOf(extra));
            o.put("index_of_first_image", indexOfFirstImage);
            ArrayNode texts = o.putArray("infotexts");
            infotexts.forEach(texts::add);
            JsonNode styles = p.node("styles");
            o.set("styles", styles == null ? Json.array() : styles);
            o.put("job_timestamp", jobTimestamp);
            o.put("clip_skip", options.integer("CLIP_stop_at_last_layers", 1));
            o.put("is_using_inpainting_conditioning", false);
            o.put("version", Infotext.VERSION);
            return o;
        }
    }
}
