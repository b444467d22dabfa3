package io.forgequeue.worker.forge;

import io.forgequeue.model.WorkerStatus;
import java.util.List;

/**
 * Which checkpoint ran, and whether it is the one a job asked for. Forge silently runs its current model
 * when a per-request override names one it cannot load (forge-api.md §3; Forge issues #1940, #1610), so after each
 * txt2img the model {@code info} reports is compared with the requested one, by every name Forge knows a checkpoint
 * by ({@link Checkpoint}). A mismatch is called only when the two are provably different: when the report or the
 * catalog leaves it open, the verdict is {@link Kind#UNKNOWN} and the image is delivered. Stateless.
 */
final class ModelCheck {

    /** What the comparison found. */
    enum Kind {
        /** The requested checkpoint ran. */
        MATCH,
        /** Another checkpoint ran. */
        MISMATCH,
        /** Forge did not say which model ran, or it cannot be told apart from the requested one. */
        UNKNOWN
    }

    /**
     * @param kind      the finding
     * @param requested the requested checkpoint as the job named it
     * @param used      the checkpoint that ran, as the worker's announcements name it when the catalog knows it, else
     *                  as Forge reported it; null when Forge reported nothing
     */
    record Verdict(Kind kind, String requested, String used) {}

    private ModelCheck() {}

    /** Compares the requested checkpoint with the model Forge reported in {@code info}. */
    static Verdict verify(String requested, ForgeInfo info, List<Checkpoint> models) {
        String name = info.sdModelName();
        String hash = info.sdModelHash();
        if (isBlank(name) && isBlank(hash)) {
            return new Verdict(Kind.UNKNOWN, requested, null);
        }
        Checkpoint ran = ranModel(info, models);
        String used = ran != null ? ran.offeredName() : !isBlank(name) ? name : hash;
        Checkpoint wanted = resolve(requested, models);
        if (wanted != null) {
            return new Verdict(wanted.ranAs(name, hash) ? Kind.MATCH : Kind.MISMATCH, requested, used);
        }
        return new Verdict(namesMatch(requested, name, hash), requested, used);
    }

    /**
     * The listed checkpoint {@code info} says ran: the one whose hash matches, else the only one whose names match;
     * null when Forge reported nothing, nothing matches, or several do.
     */
    static Checkpoint ranModel(ForgeInfo info, List<Checkpoint> models) {
        if (isBlank(info.sdModelName()) && isBlank(info.sdModelHash())) {
            return null;
        }
        Checkpoint found = null;
        for (Checkpoint c : models) {
            if (c.ranAs(info.sdModelName(), info.sdModelHash())) {
                if (found != null) {
                    return null; // two files named alike and no hash to tell them apart
                }
                found = c;
            }
        }
        return found;
    }

    /** The listed checkpoint a job's name refers to: an exact alias first, then the canonical form; or null. */
    static Checkpoint resolve(String requested, List<Checkpoint> models) {
        if (requested == null) {
            return null;
        }
        for (Checkpoint c : models) {
            if (c.answersTo(requested)) {
                return c;
            }
        }
        for (Checkpoint c : models) {
            if (c.canonicallyNamed(requested)) {
                return c;
            }
        }
        return null;
    }

    /**
     * Without the catalog (its lists could not be read): only the names can be compared. {@code sd_model_name} is a
     * file name without folder, so a requested {@code "sdxl/juggernaut.safetensors"} or {@code "sdxl_juggernaut"}
     * matches {@code "juggernaut"}.
     */
    private static Kind namesMatch(String requested, String name, String hash) {
        if (isBlank(name)) {
            return !isBlank(hash) && requested.trim().equalsIgnoreCase(hash.trim()) ? Kind.MATCH : Kind.UNKNOWN;
        }
        String wanted = WorkerStatus.ForgeOffer.canonical(requested);
        String ran = WorkerStatus.ForgeOffer.canonical(name);
        return wanted.equals(ran) || wanted.endsWith("_" + ran) ? Kind.MATCH : Kind.MISMATCH;
    }

    private static boolean isBlank(String s) {
        return s == null || s.isBlank();
    }
}
