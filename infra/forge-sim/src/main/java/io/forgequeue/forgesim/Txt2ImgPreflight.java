package io.forgequeue.forgesim;

import java.util.Map;
import tools.jackson.databind.JsonNode;

/** What Forge's API does to a txt2img body before the job is queued: the script checks and apply_infotext. */
final class Txt2ImgPreflight {

    private Txt2ImgPreflight() {}

    /** script_name and alwayson_scripts are checked before the job is queued, as Forge does (422). */
    static void checkScripts(Txt2ImgRequest p) {
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
    static Txt2ImgRequest applyInfotext(Txt2ImgRequest request) {
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
            {"Denoising strength", "denoising_strength"}
        };
        Txt2ImgRequest result = request;
        for (String[] m : mapping) {
            String value = params.get(m[0]);
            if (value == null || value.isEmpty() || request.isExplicit(m[1])) {
                continue;
            }
            Txt2ImgRequest.Field field = Txt2ImgRequest.FIELDS.stream()
                    .filter(f -> f.name().equals(m[1]))
                    .findFirst()
                    .orElseThrow();
            try {
                JsonNode converted = switch (field.kind()) {
                    case INT -> Json.NODES.numberNode(Long.parseLong(value.strip()));
                    case FLOAT -> Json.NODES.numberNode(Double.parseDouble(value.strip()));
                    default -> Json.NODES.stringNode(value);
                };
                result = result.with(m[1], converted);
            } catch (NumberFormatException e) {
                throw ApiError.python(
                        "ValueError",
                        "invalid literal for " + field.kind().name().toLowerCase() + "(): "
                                + Options.pythonRepr(value));
            }
        }
        return result;
    }
}
