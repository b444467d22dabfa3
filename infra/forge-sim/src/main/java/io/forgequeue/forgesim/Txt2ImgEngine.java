package io.forgequeue.forgesim;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * The "GPU": runs txt2img jobs one at a time behind a fair (FIFO) queue lock, like Forge's {@code queue_lock}, and
 * walks each through Forge's process_images while updating {@link GenerationState}. Its pieces:
 * {@link Txt2ImgPreflight} (checks before queueing), {@link CallAborts} (abandoning calls), {@link ModelSlot}
 * (checkpoint loading), {@link BatchPlan} (the job's shape), {@link Sampler} (steps and the faults acting at them),
 * {@link GenerationInfo} (infotext and info JSON) and {@link ImageOutput} (rendering and PNG encoding, after the lock
 * is released, as Forge encodes after leaving {@code queue_lock}). Thread-safe.
 */
final class Txt2ImgEngine {

    /** Thrown when a call is abandoned because the API went down or the sim stops: no answer is sent. */
    static final class Aborted extends RuntimeException {

        Aborted() {
            super("forge-sim went down", null, false, false);
        }
    }

    /** The finished call: the base64 images and the echo/info parts of Forge's TextToImageResponse. */
    record Result(List<String> images, ObjectNode parameters, String info) {}

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

    private static final int MAX_PIXELS_PER_BATCH = 4096 * 4096;

    private static final System.Logger LOG = System.getLogger("forge-sim");

    private final ReentrantLock queueLock = new ReentrantLock(true);

    private final GenerationState state;

    private final TaskQueue tasks;

    private final Options options;

    private final Catalog catalog;

    private final FaultPlan faults;

    private final SimStats stats;

    private final CallAborts aborts = new CallAborts();

    private final ModelSlot models;

    private final Sampler sampler;

    private final AtomicInteger foreignRunning = new AtomicInteger();

    private final AtomicInteger foreignThreads = new AtomicInteger();

    Txt2ImgEngine(
            GenerationState state,
            TaskQueue tasks,
            Options options,
            Catalog catalog,
            FaultPlan faults,
            SimStats stats,
            double stepMs,
            long modelLoadMs) {
        this.state = state;
        this.tasks = tasks;
        this.options = options;
        this.catalog = catalog;
        this.faults = faults;
        this.stats = stats;
        this.models = new ModelSlot(catalog, options, stats, aborts, modelLoadMs);
        this.sampler = new Sampler(state, faults, stats, aborts, stepMs);
    }

    void stepMs(double ms) {
        sampler.stepMs(ms);
    }

    void modelLoadMs(long ms) {
        models.loadMs(ms);
    }

    /** Own load times for some checkpoints (keys: any alias the catalog knows), replacing earlier ones. */
    void checkpointLoadMs(Map<String, Long> loadMs) {
        models.checkpointLoadMs(loadMs);
    }

    /** The own load times, by checkpoint title, in milliseconds. */
    Map<String, Long> checkpointLoadMs() {
        return models.checkpointLoadMs();
    }

    double stepMs() {
        return sampler.stepMs();
    }

    long modelLoadMs() {
        return models.loadMs();
    }

    Catalog.Checkpoint loadedCheckpoint() {
        return models.loaded();
    }

    long modelLoads() {
        return models.loads();
    }

    long ooms() {
        return sampler.ooms();
    }

    /** Starts with {@code checkpoint} loaded (the {@code --loaded} flag): no job pays for it, no load is counted. */
    void preload(Catalog.Checkpoint checkpoint) {
        models.preload(checkpoint);
    }

    /** POST /unload-checkpoint: the next job loads its checkpoint again. */
    void unload() {
        models.unload();
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
        aborts.abortAll();
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
        Thread thread = new Thread(
                () -> {
                    try {
                        txt2img(withId, origin);
                    } catch (Aborted | ApiError e) {
                        LOG.log(
                                System.Logger.Level.DEBUG,
                                "foreign job {0} ended without an answer: {1}",
                                taskId,
                                e.toString());
                    } finally {
                        foreignRunning.decrementAndGet();
                    }
                },
                "forge-sim-foreign-" + foreignThreads.incrementAndGet());
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
        Txt2ImgRequest p = Txt2ImgPreflight.applyInfotext(request);
        Txt2ImgPreflight.checkScripts(p);
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
        long myEpoch = aborts.register();
        List<ImageOutput> plans;
        ObjectNode info;
        boolean interrupted;
        boolean skipped;
        tasks.add(taskId);
        try {
            if (faults.takeHang()) {
                stats.hung();
                faults.awaitRelease();
            }
            aborts.check(myEpoch);
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
                    } finally {
                        if (origin.ui()) {
                            tasks.finish(taskId);
                        }
                        state.end();
                        if (origin.ui()) {
                            state.endUiJob();
                        }
                    }
                } finally {
                    stats.busyEnd(System.nanoTime());
                }
            } finally {
                queueLock.unlock();
            }
        } catch (InterruptedException e) {
            stats.aborted();
            tasks.forget(taskId);
            throw new Aborted();
        } catch (Aborted e) {
            stats.aborted();
            tasks.forget(taskId);
            throw e;
        } catch (ApiError e) {
            stats.failed();
            throw e;
        } finally {
            aborts.unregister();
        }

        List<String> images = p.flag("send_images") ? ImageOutput.encodeAll(plans) : List.of();
        stats.completed(interrupted, skipped);
        return new Result(images, p.parameters(), Json.pythonDumps(info));
    }

    private record JobOutcome(List<ImageOutput> plans, ObjectNode info, boolean anySkipped) {}

    /** Everything between {@code state.begin()} and {@code state.end()}: Forge's process_images. */
    private JobOutcome runJob(Txt2ImgRequest p, Catalog.SamplerChoice choice, long myEpoch, Origin origin) {
        FaultPlan.Failure failure = faults.takeFailure();
        if (failure != null && failure.atStep() == 0) {
            throw sampler.fail(failure);
        }
        CallFaults callFaults = new CallFaults(
                failure, faults.takeHold(origin.holdAtStep()), faults.takeInterrupt(), faults.takeIgnoreOverride());

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
                models.keepLoaded(myEpoch);
            } else if (wantedCheckpoint == null
                    || !wantedCheckpoint.isString()
                    || catalog.checkpoint(wantedCheckpoint.stringValue()) == null) {
                overrides.remove("sd_model_checkpoint");
                models.ensureLoaded(myEpoch);
            }
            for (Map.Entry<String, JsonNode> e : overrides.entrySet()) {
                options.set(e.getKey(), e.getValue());
                if (e.getKey().equals("sd_model_checkpoint")) {
                    models.ensureLoaded(myEpoch);
                }
            }
            return processImages(p, choice, callFaults, myEpoch);
        } finally {
            if (p.flag("override_settings_restore_afterwards")) {
                stored.forEach(options::restore);
            }
        }
    }

    /** Forge's process_images_inner: the job's iterations, then the grid and the info. */
    private JobOutcome processImages(
            Txt2ImgRequest p, Catalog.SamplerChoice choice, CallFaults callFaults, long myEpoch) {
        BatchPlan plan = BatchPlan.of(p, models);
        if (plan.pixelsPerBatch() > MAX_PIXELS_PER_BATCH) {
            throw sampler.outOfMemory();
        }
        GenerationInfo info = generationInfo(p, choice, plan);

        state.setJobCount(plan.hires() ? plan.nIter() * 2 : plan.nIter());
        List<ImageOutput> outputs = new ArrayList<>();
        List<String> infotexts = new ArrayList<>();
        boolean anySkipped = false;
        int[] stepCounter = {0};
        for (int n = 0; n < plan.nIter(); n++) {
            if (state.skipped()) {
                state.clearSkip();
            }
            if (state.interrupted() || state.stoppingGeneration()) {
                break;
            }
            anySkipped |= runIteration(n, p, plan, info, callFaults, stepCounter, myEpoch, outputs, infotexts);
            state.nextJob(options.livePreviewsEnabled(), options.previewEvery());
        }
        if (infotexts.isEmpty()) {
            infotexts.add(info.infotext(0));
        }

        int indexOfFirstImage = 0;
        boolean unwantedGrid = outputs.size() < 2 && options.bool("grid_only_if_multiple");
        if (options.bool("return_grid") && p.flag("save_images") && !unwantedGrid && !outputs.isEmpty()) {
            String gridText = info.infotext(0);
            outputs.add(0, ImageOutput.grid(gridText));
            infotexts.add(0, gridText);
            indexOfFirstImage = 1;
        }
        ObjectNode infoJs = info.processedJs(indexOfFirstImage, infotexts, state.jobTimestamp());
        return new JobOutcome(outputs, infoJs, anySkipped);
    }

    /** The seeds, the model and the extra parameters of the job's infotext. */
    private GenerationInfo generationInfo(Txt2ImgRequest p, Catalog.SamplerChoice choice, BatchPlan plan) {
        long seed = fixedSeed(p.node("seed"));
        long subseed = fixedSeed(p.node("subseed"));
        double subseedStrength = p.number("subseed_strength");
        int total = plan.images();
        List<Long> allSeeds = new ArrayList<>(total);
        List<Long> allSubseeds = new ArrayList<>(total);
        for (int i = 0; i < total; i++) {
            allSeeds.add(seed + (subseedStrength == 0 ? i : 0));
            allSubseeds.add(subseed + i);
        }
        Catalog.Checkpoint model = models.loaded();
        Map<String, Object> extra = plan.extra();
        String scheduleLabel = Catalog.effectiveScheduleLabel(choice.sampler(), choice.scheduler());
        if (!"Automatic".equals(scheduleLabel)) {
            extra.put("Schedule type", scheduleLabel);
        }
        if (model != null && model.isFlux()) {
            extra.put("Distilled CFG Scale", p.number("distilled_cfg_scale"));
        }
        return new GenerationInfo(options, p, choice, model, plan.width(), plan.height(), extra, allSeeds, allSubseeds);
    }

    /**
     * One iteration ({@code n_iter}) of the job: the checkpoint check, the first pass, the hires pass; plans the
     * batch's images when any step was done. Returns whether a pass was skipped.
     */
    private boolean runIteration(
            int n,
            Txt2ImgRequest p,
            BatchPlan plan,
            GenerationInfo info,
            CallFaults callFaults,
            int[] stepCounter,
            long myEpoch,
            List<ImageOutput> outputs,
            List<String> infotexts) {
        if (callFaults.pinModel()) {
            models.keepLoaded(myEpoch);
        } else {
            models.ensureLoaded(myEpoch);
        }
        if (plan.nIter() > 1) {
            state.setJob("Batch " + (n + 1) + " out of " + plan.nIter());
        }
        String prompt = p.string("prompt");
        long firstSeed = info.seed(n * plan.batchSize());
        int done = sampler.sample(
                plan.steps(),
                new ImageRenderer.Spec(prompt, firstSeed, plan.width(), plan.height(), 1),
                callFaults,
                stepCounter,
                myEpoch);
        boolean skipped = state.skipped();
        double completion = (double) done / plan.steps();
        int outW = plan.width();
        int outH = plan.height();
        if (plan.hires() && !state.interrupted()) {
            state.nextJob(options.livePreviewsEnabled(), options.previewEvery());
            if (plan.hrCheckpoint() != null) {
                models.loadIfOther(plan.hrCheckpoint(), myEpoch);
            }
            int hrDone = sampler.sample(
                    plan.hrSteps(),
                    new ImageRenderer.Spec(prompt, firstSeed, plan.hrWidth(), plan.hrHeight(), 1),
                    callFaults,
                    stepCounter,
                    myEpoch);
            skipped |= state.skipped();
            completion = (completion + (double) hrDone / plan.hrSteps()) / 2;
            outW = plan.hrWidth();
            outH = plan.hrHeight();
        }
        if (done > 0) {
            for (int i = 0; i < plan.batchSize(); i++) {
                int index = n * plan.batchSize() + i;
                String text = info.infotext(index);
                outputs.add(new ImageOutput(
                        new ImageRenderer.Spec(prompt, info.seed(index), outW, outH, completion), text));
                infotexts.add(text);
            }
        }
        return skipped;
    }

    private static long fixedSeed(JsonNode seed) {
        long value = seed == null ? -1 : seed.longValue();
        return value == -1 ? ThreadLocalRandom.current().nextLong(4294967294L) : value;
    }

    private static String orNull(String first, String second) {
        return first != null && !first.isEmpty() ? first : second;
    }
}
