package io.forgequeue.forgesim;

import java.util.List;
import java.util.Map;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * Forge's {@code shared.opts}: a flat map of settings (a representative subset of Forge's several hundred keys).
 * {@link #set} behaves like {@code Options.set}: an unknown key is a {@code KeyError}, except when the new value
 * equals the current one (null for an unknown key). Thread-safe (all methods synchronized); POST /options takes no
 * queue lock, as in Forge.
 */
final class Options {

    private final ObjectNode data = Json.object();

    Options(Catalog catalog, int previewEvery) {
        Catalog.Checkpoint first = catalog.checkpoints().get(0);
        Map<String, Object> defaults = new java.util.LinkedHashMap<>();
        defaults.put("samples_save", true);
        defaults.put("samples_format", "png");
        defaults.put("samples_filename_pattern", "");
        defaults.put("save_images_add_number", true);
        defaults.put("grid_save", true);
        defaults.put("grid_format", "png");
        defaults.put("grid_extended_filename", false);
        defaults.put("grid_only_if_multiple", true);
        defaults.put("grid_prevent_empty_spots", false);
        defaults.put("n_rows", -1);
        defaults.put("enable_pnginfo", true);
        defaults.put("save_txt", false);
        defaults.put("jpeg_quality", 80);
        defaults.put("outdir_samples", "");
        defaults.put("outdir_txt2img_samples", "output/txt2img-images");
        defaults.put("outdir_img2img_samples", "output/img2img-images");
        defaults.put("outdir_txt2img_grids", "output/txt2img-grids");
        defaults.put("outdir_img2img_grids", "output/img2img-grids");
        defaults.put("sd_model_checkpoint", first.title());
        defaults.put("sd_checkpoint_hash", first.sha256());
        defaults.put("sd_checkpoints_limit", 1);
        defaults.put("sd_vae", "Automatic");
        defaults.put("sd_vae_overrides_per_model_preferences", true);
        defaults.put("CLIP_stop_at_last_layers", 1);
        defaults.put("eta_noise_seed_delta", 0);
        defaults.put("randn_source", "GPU");
        defaults.put("face_restoration", false);
        defaults.put("face_restoration_model", "CodeFormer");
        defaults.put("tiling", false);
        defaults.put("return_grid", true);
        defaults.put("do_not_show_images", false);
        defaults.put("add_model_hash_to_info", true);
        defaults.put("add_model_name_to_info", true);
        defaults.put("add_version_to_infotext", true);
        defaults.put("live_previews_enable", true);
        defaults.put("live_previews_image_format", "png");
        defaults.put("show_progress_grid", true);
        defaults.put("show_progress_every_n_steps", previewEvery);
        defaults.put("show_progress_type", "Approx NN");
        defaults.put("live_preview_fast_interrupt", false);
        defaults.put("interrupt_after_current", true);
        defaults.put("save_incomplete_images", false);
        defaults.put("sd_vae_decode_method", "Full");
        defaults.put("forge_additional_modules", List.of());
        defaults.put("forge_preset", "sd");
        defaults.put("forge_unet_storage_dtype", "Automatic");
        defaults.put("forge_inference_memory", 1024);
        defaults.put("forge_async_loading", "Queue");
        defaults.put("forge_pin_shared_memory", "CPU");
        defaults.forEach((k, v) -> data.set(k, Json.tree(v)));
    }

    synchronized ObjectNode snapshot() {
        return data.deepCopy();
    }

    synchronized boolean has(String key) {
        return data.has(key);
    }

    /** The value, or null when the key is unknown. */
    synchronized JsonNode get(String key) {
        JsonNode v = data.get(key);
        return v == null ? null : v.deepCopy();
    }

    /**
     * {@code opts.set(key, value)}: a value equal to the current one is a no-op; an unknown key raises
     * {@code KeyError('key')} (HTTP 500).
     */
    synchronized void set(String key, JsonNode value) {
        JsonNode old = data.get(key);
        JsonNode normalized = value == null ? Json.NODES.nullNode() : value;
        if ((old == null && normalized.isNull()) || (old != null && old.equals(normalized))) {
            return;
        }
        if (old == null) {
            throw ApiError.python("KeyError", pythonRepr(key));
        }
        data.set(key, normalized);
    }

    /** Restores a value captured with {@link #get} (the {@code override_settings_restore_afterwards} path). */
    synchronized void restore(String key, JsonNode value) {
        data.set(key, value);
    }

    synchronized String selectedCheckpoint() {
        JsonNode v = data.get("sd_model_checkpoint");
        return v == null || v.isNull() ? null : v.asString();
    }

    synchronized boolean livePreviewsEnabled() {
        JsonNode v = data.get("live_previews_enable");
        return v != null && v.asBoolean();
    }

    synchronized int previewEvery() {
        JsonNode v = data.get("show_progress_every_n_steps");
        return v == null ? 10 : v.asInt(10);
    }

    synchronized boolean bool(String key) {
        JsonNode v = data.get(key);
        return v != null && v.asBoolean();
    }

    synchronized int integer(String key, int fallback) {
        JsonNode v = data.get(key);
        return v == null ? fallback : v.asInt(fallback);
    }

    /** Python's {@code repr()} of a JSON value, for error messages such as {@code model 'x' not found}. */
    static String pythonRepr(JsonNode value) {
        if (value == null || value.isNull()) {
            return "None";
        }
        if (value.isString()) {
            return pythonRepr(value.stringValue());
        }
        if (value.isBoolean()) {
            return value.booleanValue() ? "True" : "False";
        }
        return value.toString();
    }

    static String pythonRepr(String s) {
        char quote = s.contains("'") && !s.contains("\"") ? '"' : '\'';
        StringBuilder sb = new StringBuilder().append(quote);
        for (char c : s.toCharArray()) {
            if (c == quote || c == '\\') {
                sb.append('\\').append(c);
            } else if (c == '\n') {
                sb.append("\\n");
            } else if (c == '\t') {
                sb.append("\\t");
            } else if (c == '\r') {
                sb.append("\\r");
            } else {
                sb.append(c);
            }
        }
        return sb.append(quote).toString();
    }
}
