package io.forgequeue.model;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;

/**
 * A worker's announcement (worker to {@link Topology#EVENTS_EXCHANGE}, routing key
 * {@link Topology#WORKER_STATUS_ROUTING_KEY}, to every gateway): sent when it starts, every
 * {@code intervalMillis} while it runs, whenever its state or the job it holds changes, and a last time with
 * {@link WorkerState#GONE} on shutdown. The scheduler hands jobs only to workers that announced themselves
 * recently; one that falls silent for longer than the gateway's presence timeout is taken for lost and its jobs
 * go to others.
 *
 * @param workerId       the worker's id; never null
 * @param instance       a random id of this worker process: a restarted worker with the same id is a new
 *                       instance, and what was assigned to the old one is lost; never null
 * @param pool           the pool it serves; never null
 * @param state          what it does now; never null
 * @param seq            increases by one with every status of this instance (a reader ignores older ones)
 * @param running        the assignment it is working on, or null when idle
 * @param forge          what its Forge offers and has loaded; null before the worker could ask Forge
 * @param intervalMillis how often it announces itself while running
 * @param sentAt         when it was sent (worker clock); never null
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record WorkerStatus(
        String workerId,
        UUID instance,
        String pool,
        WorkerState state,
        long seq,
        Assignment running,
        ForgeOffer forge,
        long intervalMillis,
        Instant sentAt) {

    public WorkerStatus {
        Objects.requireNonNull(workerId, "workerId");
        Objects.requireNonNull(instance, "instance");
        Objects.requireNonNull(pool, "pool");
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(sentAt, "sentAt");
    }

    /**
     * One hand-out of a job: the job and the attempt the scheduler gave it.
     *
     * @param jobId   the job; never null
     * @param attempt the assignment number from {@link JobMessage#attempt()}
     */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Assignment(UUID jobId, int attempt) {

        public Assignment {
            Objects.requireNonNull(jobId, "jobId");
        }
    }

    /**
     * What the worker's Forge offers. Lists hold the names a job may use (for checkpoints the stable names:
     * {@code model_name} and title without hash, forge-api.md §7).
     *
     * @param identity        the Forge this worker drives, as a normalized URL without credentials (two live
     *                        workers announcing the same identity share one Forge: the later one is refused)
     * @param checkpoints     checkpoints it can load; never null (empty when unknown)
     * @param samplers        sampler names; never null
     * @param schedulers      scheduler names; never null
     * @param loadedCheckpoint the checkpoint its last job ran with (Forge keeps it loaded), or null when unknown
     * @param loadSeconds     measured seconds to load each checkpoint (from its own switches and first loads); never null
     * @param secondsPerStep  measured seconds per sampling step of a 512x512 image, or null before it has run a job
     */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record ForgeOffer(
            String identity,
            List<String> checkpoints,
            List<String> samplers,
            List<String> schedulers,
            String loadedCheckpoint,
            Map<String, Double> loadSeconds,
            Double secondsPerStep) {

        public ForgeOffer {
            checkpoints = checkpoints == null ? List.of() : List.copyOf(checkpoints);
            samplers = samplers == null ? List.of() : List.copyOf(samplers);
            schedulers = schedulers == null ? List.of() : List.copyOf(schedulers);
            loadSeconds = loadSeconds == null ? Map.of() : Map.copyOf(loadSeconds);
        }

        /**
         * The form in which two names of one checkpoint compare equal: Forge accepts a checkpoint by its title
         * ({@code "sdxl/juggernaut.safetensors [a1b2c3d4e5]"}), the title without hash, or its model name
         * ({@code "sdxl_juggernaut"}: folders joined with '_', no extension), forge-api.md §7. This drops the hash,
         * joins folders with '_' and drops the extension. Null stays null.
         */
        public static String canonical(String checkpoint) {
            if (checkpoint == null) {
                return null;
            }
            // the scheduler compares names for every candidate and worker: remembered, and the patterns compiled once
            String known = CANONICAL.get(checkpoint);
            if (known != null) {
                return known;
            }
            String name = HASH_SUFFIX
                    .matcher(checkpoint.trim())
                    .replaceFirst("")
                    .replace('/', '_')
                    .replace('\\', '_');
            int dot = name.lastIndexOf('.');
            if (dot > 0 && MODEL_EXTENSION.matcher(name.substring(dot + 1)).matches()) {
                name = name.substring(0, dot);
            }
            if (CANONICAL.size() >= CANONICAL_MAX) {
                CANONICAL.clear();
            }
            CANONICAL.put(checkpoint, name);
            return name;
        }

        private static final java.util.regex.Pattern HASH_SUFFIX =
                java.util.regex.Pattern.compile("\\s*\\[[0-9a-fA-F]{6,64}]$");
        private static final java.util.regex.Pattern MODEL_EXTENSION =
                java.util.regex.Pattern.compile("(?i)safetensors|ckpt|pt|pth|bin|gguf");
        /** Canonical names already computed (checkpoint names are few; bounded all the same). */
        private static final java.util.Map<String, String> CANONICAL = new java.util.concurrent.ConcurrentHashMap<>();

        private static final int CANONICAL_MAX = 10_000;
    }
}
