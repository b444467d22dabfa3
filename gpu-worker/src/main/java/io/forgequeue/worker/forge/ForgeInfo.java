package io.forgequeue.worker.forge;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The parts of txt2img's {@code info} the worker uses. {@code info} is a JSON document inside a JSON string, so
 * it is parsed twice (forge-api.md §4, §11.6); an object is accepted too. Every field may be missing or null.
 *
 * @param seed              first seed, or null
 * @param allSeeds          one seed per PLANNED image (also after an interrupt); never null
 * @param indexOfFirstImage index in {@code images} of the first generated image (1 when a grid comes first)
 * @param sdModelName       the model Forge actually used, or null
 * @param sdModelHash       its short hash, or null
 * @param sampler           sampler name as Forge used it, or null
 * @param scheduler         scheduler, read from the infotext's {@code Schedule type:}, or null
 * @param steps             steps, or null
 * @param cfgScale          CFG scale, or null
 * @param width             width, or null
 * @param height            height, or null
 * @param jobTimestamp      Forge's {@code yyyyMMddHHmmss} stamp, or null
 * @param version           Forge's version string, or null
 */
record ForgeInfo(
        Long seed,
        List<Long> allSeeds,
        int indexOfFirstImage,
        String sdModelName,
        String sdModelHash,
        String sampler,
        String scheduler,
        Integer steps,
        Double cfgScale,
        Integer width,
        Integer height,
        String jobTimestamp,
        String version) {

    private static final Logger log = LoggerFactory.getLogger(ForgeInfo.class);
    private static final Pattern SCHEDULE_TYPE = Pattern.compile("Schedule type: ([^,\\n]+)");

    static final ForgeInfo EMPTY =
            new ForgeInfo(null, List.of(), 0, null, null, null, null, null, null, null, null, null, null);

    ForgeInfo {
        allSeeds = List.copyOf(allSeeds);
        indexOfFirstImage = Math.max(0, indexOfFirstImage);
    }

    /** Parses the {@code info} field of a txt2img response; unreadable info gives {@link #EMPTY}. */
    static ForgeInfo parse(JsonNode infoField, JsonMapper json) {
        if (infoField == null || infoField.isNull() || infoField.isMissingNode()) {
            return EMPTY;
        }
        JsonNode info = infoField;
        if (infoField.isString()) {
            try {
                info = json.readTree(infoField.asString());
            } catch (RuntimeException e) {
                log.warn(
                        "Forge's info is not JSON; results carry no metadata ({})",
                        e.getClass().getSimpleName());
                return EMPTY;
            }
        }
        if (info == null || !info.isObject()) {
            return EMPTY;
        }
        List<Long> seeds = new ArrayList<>();
        JsonNode all = info.get("all_seeds");
        if (all != null && all.isArray()) {
            for (JsonNode s : all) {
                if (s.isNumber()) {
                    seeds.add(s.asLong());
                }
            }
        }
        String scheduler = null;
        JsonNode infotexts = info.get("infotexts");
        if (infotexts != null
                && infotexts.isArray()
                && !infotexts.isEmpty()
                && infotexts.get(0).isString()) {
            Matcher m = SCHEDULE_TYPE.matcher(infotexts.get(0).asString());
            if (m.find()) {
                scheduler = m.group(1).trim();
            }
        }
        JsonNode first = info.get("index_of_first_image");
        return new ForgeInfo(
                longOrNull(info.get("seed")),
                seeds,
                first != null && first.isNumber() ? first.asInt() : 0,
                text(info.get("sd_model_name")),
                text(info.get("sd_model_hash")),
                text(info.get("sampler_name")),
                scheduler,
                intOrNull(info.get("steps")),
                doubleOrNull(info.get("cfg_scale")),
                intOrNull(info.get("width")),
                intOrNull(info.get("height")),
                text(info.get("job_timestamp")),
                text(info.get("version")));
    }

    /**
     * Seed of the i-th generated image: {@code all_seeds[i]}, else {@code seed + i}, else the requested seed + i
     * (when the request fixed one), else -1 (unknown).
     */
    long seedOf(int i, long requestedSeed) {
        if (i < allSeeds.size()) {
            return allSeeds.get(i);
        }
        if (seed != null) {
            return seed + i;
        }
        return requestedSeed >= 0 ? requestedSeed + i : -1;
    }

    /** Metadata for the SUCCEEDED event (camelCase keys; absent values left out). */
    Map<String, Object> toMetadata() {
        Map<String, Object> m = new LinkedHashMap<>();
        put(m, "seed", seed);
        if (!allSeeds.isEmpty()) {
            m.put("allSeeds", allSeeds);
        }
        put(m, "sdModelName", sdModelName);
        put(m, "sdModelHash", sdModelHash);
        put(m, "sampler", sampler);
        put(m, "scheduler", scheduler);
        put(m, "steps", steps);
        put(m, "cfgScale", cfgScale);
        put(m, "width", width);
        put(m, "height", height);
        put(m, "jobTimestamp", jobTimestamp);
        put(m, "forgeVersion", version);
        return m;
    }

    private static void put(Map<String, Object> m, String key, Object value) {
        if (value != null) {
            m.put(key, value);
        }
    }

    private static String text(JsonNode n) {
        return n == null || n.isNull() || !n.isValueNode() ? null : n.asString();
    }

    private static Long longOrNull(JsonNode n) {
        return n != null && n.isNumber() ? n.asLong() : null;
    }

    private static Integer intOrNull(JsonNode n) {
        return n != null && n.isNumber() ? n.asInt() : null;
    }

    private static Double doubleOrNull(JsonNode n) {
        return n != null && n.isNumber() ? n.asDouble() : null;
    }
}
