package io.forgequeue.forgesim;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * What Forge's create_infotext and Processed.js say about one job: the infotext of each image and the {@code info}
 * JSON of the response.
 */
final class GenerationInfo {

    private final Options options;

    private final Txt2ImgRequest p;

    private final Catalog.SamplerChoice choice;

    private final Catalog.Checkpoint model;

    private final int width;

    private final int height;

    private final Map<String, Object> extra;

    private final List<Long> allSeeds;

    private final List<Long> allSubseeds;

    GenerationInfo(
            Options options,
            Txt2ImgRequest p,
            Catalog.SamplerChoice choice,
            Catalog.Checkpoint model,
            int width,
            int height,
            Map<String, Object> extra,
            List<Long> allSeeds,
            List<Long> allSubseeds) {
        this.options = options;
        this.p = p;
        this.choice = choice;
        this.model = model;
        this.width = width;
        this.height = height;
        this.extra = extra;
        this.allSeeds = allSeeds;
        this.allSubseeds = allSubseeds;
    }

    /** The seed of the image at {@code index} (over all iterations). */
    long seed(int index) {
        return allSeeds.get(index);
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
        } else {
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
