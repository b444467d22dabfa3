package io.forgequeue.forgesim;

import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The checkpoint in (simulated) VRAM: which one is loaded, what a load costs ({@code --model-load-ms}, or a
 * checkpoint's own {@code --checkpoint-load-ms}), and how many loads there were. Loads happen on the calling job's
 * thread (inside the queue lock) and can be abandoned like any wait of the call. Thread-safe.
 */
final class ModelSlot {

    private final Catalog catalog;

    private final Options options;

    private final SimStats stats;

    private final CallAborts aborts;

    private final Object monitor = new Object();

    private final AtomicLong loads = new AtomicLong();

    private volatile long loadNanos;

    /** Load times of the checkpoints that have their own; others take loadNanos. */
    private volatile Map<Catalog.Checkpoint, Long> checkpointLoadNanos = Map.of();

    private volatile Catalog.Checkpoint loaded;

    ModelSlot(Catalog catalog, Options options, SimStats stats, CallAborts aborts, long loadMs) {
        this.catalog = catalog;
        this.options = options;
        this.stats = stats;
        this.aborts = aborts;
        loadMs(loadMs);
    }

    void loadMs(long ms) {
        this.loadNanos = ms * 1_000_000;
    }

    long loadMs() {
        return loadNanos / 1_000_000;
    }

    /** Own load times for some checkpoints (keys: any alias the catalog knows), replacing earlier ones. */
    void checkpointLoadMs(Map<String, Long> loadMs) {
        Map<Catalog.Checkpoint, Long> nanos = new HashMap<>();
        loadMs.forEach(
                (alias, ms) -> nanos.put(Objects.requireNonNull(catalog.checkpoint(alias), alias), ms * 1_000_000));
        this.checkpointLoadNanos = Map.copyOf(nanos);
    }

    /** The own load times, by checkpoint title, in milliseconds. */
    Map<String, Long> checkpointLoadMs() {
        Map<String, Long> out = new TreeMap<>();
        checkpointLoadNanos.forEach((c, nanos) -> out.put(c.title(), nanos / 1_000_000));
        return out;
    }

    Catalog.Checkpoint loaded() {
        return loaded;
    }

    long loads() {
        return loads.get();
    }

    /** Starts with {@code checkpoint} loaded (the {@code --loaded} flag): no job pays for it, no load is counted. */
    void preload(Catalog.Checkpoint checkpoint) {
        synchronized (monitor) {
            loaded = checkpoint;
        }
    }

    /** POST /unload-checkpoint: the next job loads its checkpoint again. */
    void unload() {
        synchronized (monitor) {
            loaded = null;
        }
    }

    /** Forge's per-iteration {@code reload_model_weights()}: loads the selected checkpoint if it is not loaded. */
    void ensureLoaded(long myEpoch) {
        Catalog.Checkpoint wanted = catalog.checkpoint(options.selectedCheckpoint());
        if (wanted == null) {
            wanted = catalog.checkpoints().get(0);
        }
        if (wanted != loaded) {
            load(wanted, myEpoch);
        }
    }

    /** The "ignore override" fault: whatever is loaded stays; only when nothing is, the selected one is loaded. */
    void keepLoaded(long myEpoch) {
        if (loaded == null) {
            ensureLoaded(myEpoch);
        }
    }

    /** Loads {@code wanted} unless it is loaded already (the hires pass's own checkpoint). */
    void loadIfOther(Catalog.Checkpoint wanted, long myEpoch) {
        if (wanted != loaded) {
            load(wanted, myEpoch);
        }
    }

    /** The checkpoint a name stands for: an alias the catalog knows, else the first title containing it; or null. */
    Catalog.Checkpoint closest(String name) {
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

    private void load(Catalog.Checkpoint wanted, long myEpoch) {
        long wait = checkpointLoadNanos.getOrDefault(wanted, loadNanos);
        long start = System.nanoTime();
        if (wait > 0) {
            aborts.waitUntil(start + wait, myEpoch);
        }
        synchronized (monitor) {
            loaded = wanted;
        }
        loads.incrementAndGet();
        stats.modelLoaded(System.nanoTime() - start);
    }
}
