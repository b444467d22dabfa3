package io.forgequeue.worker.forge;

import io.forgequeue.model.JobSpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.JsonNode;

/**
 * What the Forge server offers (samplers, schedulers, checkpoints), used to refuse a job whose names Forge would
 * silently replace by its defaults (forge-api.md §3, §11.7): an unknown {@code sampler_name} becomes the first
 * sampler, an unknown scheduler "Automatic", an unknown {@code sd_model_checkpoint} the current model.
 *
 * <p>The lists are fetched lazily and kept for {@link #MAX_AGE}, and read again every
 * {@code worker.models.catalog-refresh} by {@link #refreshNow()} (so that a model added on the server reaches the
 * worker's announcements); a name not found in lists older than {@link #RECHECK_AFTER} triggers one refresh (a model
 * may have been added). When the lists cannot be fetched the job is not held up: validation is skipped (and not tried
 * again for {@link #RECHECK_AFTER}). Thread-safe.
 */
final class ForgeCatalog {

    static final Duration MAX_AGE = Duration.ofMinutes(10);
    static final Duration RECHECK_AFTER = Duration.ofSeconds(30);

    private static final Logger log = LoggerFactory.getLogger(ForgeCatalog.class);

    /**
     * The names Forge accepts, as fetched at {@code fetchedNanos}: {@code checkpoints} holds every alias,
     * {@code modelNames} the stable names the worker announces, {@code models} the listed checkpoints themselves.
     */
    record Lists(
            Set<String> samplers,
            Set<String> schedulers,
            Set<String> checkpoints,
            Set<String> modelNames,
            List<Checkpoint> models,
            long fetchedNanos) {

        Lists {
            samplers = Set.copyOf(samplers);
            schedulers = Set.copyOf(schedulers);
            checkpoints = Set.copyOf(checkpoints);
            modelNames = Set.copyOf(modelNames);
            models = List.copyOf(models);
        }

        /** The problem with the spec's names, or empty when Forge knows them all. */
        Optional<String> problemWith(JobSpec spec) {
            if (spec.sampler() != null && !knowsSampler(spec.sampler())) {
                return Optional.of(
                        "unknown sampler '" + spec.sampler() + "' (available: " + String.join(", ", samplers) + ")");
            }
            if (spec.scheduler() != null && !schedulers.contains(spec.scheduler())) {
                return Optional.of("unknown scheduler '" + spec.scheduler() + "' (available: "
                        + String.join(", ", schedulers) + ")");
            }
            if (spec.checkpoint() != null && !checkpoints.contains(spec.checkpoint())) {
                return Optional.of("unknown checkpoint '" + spec.checkpoint() + "'");
            }
            return Optional.empty();
        }

        /** A sampler name, or Forge's legacy "sampler scheduler" form (e.g. "DPM++ 2M Karras"). */
        private boolean knowsSampler(String name) {
            if (samplers.contains(name)) {
                return true;
            }
            for (String scheduler : schedulers) {
                if (name.endsWith(" " + scheduler)
                        && samplers.contains(name.substring(0, name.length() - scheduler.length() - 1))) {
                    return true;
                }
            }
            return false;
        }

        /**
         * Reads Forge's three lists. Schedulers are accepted by name or label; checkpoints by every alias the API
         * lets us derive ({@code CheckpointInfo.ids}): title, relative name, name with the short hash, model_name,
         * file name without folder and extension, short hash, sha256.
         */
        static Lists parse(JsonNode samplerList, JsonNode schedulerList, JsonNode modelList, long nowNanos) {
            Set<String> samplers = new LinkedHashSet<>();
            for (JsonNode s : array(samplerList)) {
                add(samplers, s.get("name"));
            }
            Set<String> schedulers = new LinkedHashSet<>();
            for (JsonNode s : array(schedulerList)) {
                add(schedulers, s.get("name"));
                add(schedulers, s.get("label"));
            }
            Set<String> checkpoints = new LinkedHashSet<>();
            Set<String> modelNames = new LinkedHashSet<>();
            List<Checkpoint> models = new ArrayList<>();
            for (JsonNode m : array(modelList)) {
                add(modelNames, m.get("model_name"));
                String title = text(m.get("title"));
                String hash = text(m.get("hash"));
                if (title != null) {
                    checkpoints.add(title);
                    models.add(new Checkpoint(
                            title, text(m.get("model_name")), hash, text(m.get("sha256")), text(m.get("filename"))));
                    String name = title.replaceFirst(" \\[[0-9a-fA-F]+]$", "");
                    checkpoints.add(name);
                    modelNames.add(name);
                    if (hash != null) {
                        checkpoints.add(name + " [" + hash + "]");
                    }
                }
                add(checkpoints, m.get("model_name"));
                add(checkpoints, m.get("hash"));
                add(checkpoints, m.get("sha256"));
                String filename = text(m.get("filename"));
                if (filename != null) {
                    String base =
                            filename.substring(Math.max(filename.lastIndexOf('/'), filename.lastIndexOf('\\')) + 1);
                    int dot = base.lastIndexOf('.');
                    checkpoints.add(dot > 0 ? base.substring(0, dot) : base);
                }
            }
            return new Lists(samplers, schedulers, checkpoints, modelNames, models, nowNanos);
        }

        private static Iterable<JsonNode> array(JsonNode node) {
            if (node == null || !node.isArray()) {
                throw new IllegalArgumentException("not a list");
            }
            return node;
        }

        private static void add(Set<String> set, JsonNode node) {
            String value = text(node);
            if (value != null) {
                set.add(value);
            }
        }

        private static String text(JsonNode node) {
            return node == null
                            || node.isNull()
                            || !node.isValueNode()
                            || node.asString().isEmpty()
                    ? null
                    : node.asString();
        }
    }

    private final Function<String, JsonNode> fetch;
    private volatile Lists lists;
    private volatile long failedAtNanos;
    private volatile boolean failedOnce;

    /** @param fetch GETs an API path and returns its JSON (throws on failure) */
    ForgeCatalog(Function<String, JsonNode> fetch) {
        this.fetch = fetch;
    }

    /**
     * The problem with the spec's sampler, scheduler or checkpoint, or empty when Forge knows them (or when its
     * lists cannot be read right now).
     */
    Optional<String> problemWith(JobSpec spec) {
        if (spec.sampler() == null && spec.scheduler() == null && spec.checkpoint() == null) {
            return Optional.empty();
        }
        long now = System.nanoTime();
        Lists current = lists;
        if (current == null || now - current.fetchedNanos() > MAX_AGE.toNanos()) {
            current = refresh(now);
        }
        if (current == null) {
            return Optional.empty();
        }
        Optional<String> problem = current.problemWith(spec);
        if (problem.isPresent() && now - current.fetchedNanos() > RECHECK_AFTER.toNanos()) {
            Lists fresh = refresh(now);
            problem = fresh == null ? Optional.empty() : fresh.problemWith(spec);
        }
        return problem;
    }

    /** The lists as last fetched (fetching them when missing or older than {@link #MAX_AGE}), or null. */
    Lists lists() {
        long now = System.nanoTime();
        Lists current = lists;
        if (current == null || now - current.fetchedNanos() > MAX_AGE.toNanos()) {
            current = refresh(now);
        }
        return current;
    }

    /** The lists as last read, without any call; null before the first successful fetch. */
    Lists lastRead() {
        return lists;
    }

    /**
     * Reads the lists again now, even during the pause after a failure (the periodic refresh, and the announcements'
     * requests while no lists were ever read); null when Forge does not give them.
     */
    Lists refreshNow() {
        long now = System.nanoTime();
        failedOnce = false; // a scheduled refresh is rare enough to try even right after a failure
        return refresh(now);
    }

    /**
     * Forge answers (again): if its lists were never read, they are asked for at the next use rather than after the
     * usual pause (a worker that started while Forge was down checks the settings of its first job once Forge is
     * back, instead of skipping the check for the rest of the pause). {@link #refreshNow()} ends the pause as well,
     * and reads at once.
     */
    void forgeAnswers() {
        if (lists == null) {
            failedOnce = false;
        }
    }

    private Lists refresh(long now) {
        if (failedOnce && now - failedAtNanos < RECHECK_AFTER.toNanos()) {
            return lists; // do not ask a Forge without these lists on every job
        }
        try {
            Lists fresh = Lists.parse(
                    fetch.apply("sdapi/v1/samplers"),
                    fetch.apply("sdapi/v1/schedulers"),
                    fetch.apply("sdapi/v1/sd-models"),
                    now);
            lists = fresh;
            failedOnce = false;
            log.debug(
                    "Forge catalog: {} samplers, {} scheduler names, {} checkpoint aliases",
                    fresh.samplers().size(),
                    fresh.schedulers().size(),
                    fresh.checkpoints().size());
            return fresh;
        } catch (RuntimeException e) {
            failedOnce = true;
            failedAtNanos = now;
            log.warn(
                    "Could not read Forge's samplers/schedulers/models ({}); job settings not checked", e.getMessage());
            return null;
        }
    }
}
