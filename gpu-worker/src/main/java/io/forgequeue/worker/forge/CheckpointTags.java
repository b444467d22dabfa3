package io.forgequeue.worker.forge;

import io.forgequeue.model.WorkerStatus;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The values of the {@code checkpoint} tag of the worker's switch metrics: checkpoint names in canonical form
 * ({@link WorkerStatus.ForgeOffer#canonical}), at most {@code max} distinct ones (the first seen, the offered ones
 * first), every further one {@link #OTHER}, so that a Forge with hundreds of models cannot blow up the metric series.
 * Each new value is handed to {@code onNew} once (to register its series at 0). Thread-safe (synchronized).
 */
final class CheckpointTags {

    /** The tag of checkpoints beyond the limit. */
    static final String OTHER = "_other";

    private final int max;
    private final Consumer<String> onNew;
    private final Set<String> known = new LinkedHashSet<>();

    CheckpointTags(int max, Consumer<String> onNew) {
        this.max = Math.max(1, max);
        this.onNew = onNew;
    }

    /** Takes the offered checkpoints in as tag values, while there is room. */
    void offered(Collection<String> checkpoints) {
        checkpoints.forEach(this::tagFor);
    }

    /** The tag value for a checkpoint name. */
    String tagFor(String checkpoint) {
        String name = WorkerStatus.ForgeOffer.canonical(checkpoint);
        if (name == null || name.isEmpty()) {
            return OTHER;
        }
        boolean added;
        synchronized (this) {
            if (known.contains(name)) {
                return name;
            }
            if (known.size() >= max) {
                return OTHER;
            }
            added = known.add(name);
        }
        if (added) {
            onNew.accept(name);
        }
        return name;
    }
}
