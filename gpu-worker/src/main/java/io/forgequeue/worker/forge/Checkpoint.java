package io.forgequeue.worker.forge;

import io.forgequeue.model.WorkerStatus;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Set;

/**
 * One checkpoint as GET /sdapi/v1/sd-models lists it (forge-api.md §7), with the names Forge knows it by.
 *
 * <p>Three name spaces meet here: a job names a checkpoint by any alias Forge accepts (title, relative name, model
 * name, hash, ...); the worker's announcements list it by its {@link #offeredName() model name}; and txt2img's
 * {@code info} reports the model that ran as {@code sd_model_name}, which is Forge's {@code name_for_extra} (the
 * file name without folder and extension, so {@code "sdxl/juggernaut.safetensors"} runs as {@code "juggernaut"}),
 * plus {@code sd_model_hash}, its short hash.
 *
 * @param title     {@code "<relative name> [<short hash>]"}, or the bare relative name while Forge has not hashed the
 *                  file yet; never null
 * @param modelName the name without extension, folders joined by '_', or null when Forge did not list it
 * @param hash      the short hash (10 hex digits), or null until Forge has hashed the file
 * @param sha256    the full sha256, or null until Forge has hashed the file
 * @param filename  the file's path on the server, or null
 */
record Checkpoint(String title, String modelName, String hash, String sha256, String filename) {

    Checkpoint {
        if (title == null || title.isBlank()) {
            throw new IllegalArgumentException("a checkpoint needs a title");
        }
        hash = blankToNull(hash);
        sha256 = blankToNull(sha256);
        modelName = blankToNull(modelName);
        filename = blankToNull(filename);
    }

    /** The title without its hash suffix: the path relative to the models folder. */
    String name() {
        return title.replaceFirst("\\s*\\[[0-9a-fA-F]+]$", "");
    }

    /** The name the worker's announcements use (the model name, else the canonical form of the relative name). */
    String offeredName() {
        return modelName != null ? modelName : WorkerStatus.ForgeOffer.canonical(name());
    }

    /** What Forge reports as {@code sd_model_name} when this checkpoint ran: the file name without folder and extension. */
    String nameForExtra() {
        String path = filename != null ? filename : name();
        String base = path.substring(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
        int dot = base.lastIndexOf('.');
        return dot > 0 ? base.substring(0, dot) : base;
    }

    /** Every string Forge accepts for this checkpoint that its listing lets us derive ({@code CheckpointInfo.ids}). */
    Set<String> aliases() {
        Set<String> aliases = new LinkedHashSet<>();
        aliases.add(title);
        aliases.add(name());
        aliases.add(nameForExtra());
        if (modelName != null) {
            aliases.add(modelName);
        }
        if (hash != null) {
            aliases.add(hash);
            aliases.add(name() + " [" + hash + "]");
        }
        if (sha256 != null) {
            aliases.add(sha256);
            aliases.add(sha256.substring(0, Math.min(10, sha256.length())));
        }
        return aliases;
    }

    /** Whether {@code name} is exactly one of its aliases. */
    boolean answersTo(String name) {
        return name != null && aliases().contains(name);
    }

    /** Whether {@code name} names it in canonical form ({@link WorkerStatus.ForgeOffer#canonical}). */
    boolean canonicallyNamed(String name) {
        if (name == null) {
            return false;
        }
        String wanted = WorkerStatus.ForgeOffer.canonical(name);
        return wanted.equals(WorkerStatus.ForgeOffer.canonical(name())) || wanted.equals(offeredName());
    }

    /**
     * Whether txt2img's {@code info} ({@code sd_model_name}, {@code sd_model_hash}) describes this checkpoint. The hash
     * decides when both sides know a sha256-based one (two files may share a file name in different folders): the
     * short hash of 10 hex digits or longer. An 8-digit hash (the legacy {@code model_hash} of old builds) is another
     * algorithm, so then the name decides.
     */
    boolean ranAs(String sdModelName, String sdModelHash) {
        String h = sdModelHash == null ? "" : sdModelHash.trim().toLowerCase(Locale.ROOT);
        if (h.length() >= 10 && (hash != null || sha256 != null)) {
            return h.equalsIgnoreCase(hash)
                    || (sha256 != null && sha256.toLowerCase(Locale.ROOT).startsWith(h));
        }
        return sdModelName != null && (sdModelName.equals(nameForExtra()) || canonicallyNamed(sdModelName));
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s;
    }
}
