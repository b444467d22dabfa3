package io.forgequeue.forgesim;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * The body of POST /sdapi/v1/txt2img after pydantic-v2-like validation ({@code StableDiffusionTxt2ImgProcessingAPI}):
 * every field optional, unknown fields dropped, lax coercion ("20" → 20, 20.0 → 20), type errors collected as
 * 422 error objects. {@link #parameters()} is what Forge echoes back as {@code parameters}: every field, defaults
 * filled in, in declaration order.
 *
 * @param parameters every known field with its validated value (null allowed: all fields are Optional)
 * @param explicit   names of the fields the client actually sent (for {@code infotext} filling)
 */
record Txt2ImgRequest(ObjectNode parameters, Set<String> explicit) {

    enum Kind {
        STR,
        INT,
        FLOAT,
        BOOL,
        LIST_STR,
        LIST,
        DICT
    }

    record Field(String name, Kind kind, Object defaultValue) {}

    private static final Pattern INT_PATTERN = Pattern.compile("\\s*[+-]?[0-9]+(_[0-9]+)*\\s*");

    private static final Set<String> TRUE_WORDS = Set.of("1", "on", "t", "true", "y", "yes");

    private static final Set<String> FALSE_WORDS = Set.of("0", "off", "f", "false", "n", "no");

    /** Forge's model: the processing class's __init__ parameters, then the API's additional fields. */
    static final List<Field> FIELDS = List.of(
            f("prompt", Kind.STR, ""),
            f("negative_prompt", Kind.STR, ""),
            f("styles", Kind.LIST_STR, null),
            f("seed", Kind.INT, -1L),
            f("subseed", Kind.INT, -1L),
            f("subseed_strength", Kind.FLOAT, 0.0),
            f("seed_resize_from_h", Kind.INT, -1L),
            f("seed_resize_from_w", Kind.INT, -1L),
            f("sampler_name", Kind.STR, null),
            f("scheduler", Kind.STR, null),
            f("batch_size", Kind.INT, 1L),
            f("n_iter", Kind.INT, 1L),
            f("steps", Kind.INT, 50L),
            f("cfg_scale", Kind.FLOAT, 7.0),
            f("distilled_cfg_scale", Kind.FLOAT, 3.5),
            f("width", Kind.INT, 512L),
            f("height", Kind.INT, 512L),
            f("restore_faces", Kind.BOOL, null),
            f("tiling", Kind.BOOL, null),
            f("do_not_save_samples", Kind.BOOL, false),
            f("do_not_save_grid", Kind.BOOL, false),
            f("eta", Kind.FLOAT, null),
            f("denoising_strength", Kind.FLOAT, 0.75),
            f("s_min_uncond", Kind.FLOAT, null),
            f("s_churn", Kind.FLOAT, null),
            f("s_tmax", Kind.FLOAT, null),
            f("s_tmin", Kind.FLOAT, null),
            f("s_noise", Kind.FLOAT, null),
            f("override_settings", Kind.DICT, null),
            f("override_settings_restore_afterwards", Kind.BOOL, true),
            f("refiner_checkpoint", Kind.STR, null),
            f("refiner_switch_at", Kind.FLOAT, null),
            f("disable_extra_networks", Kind.BOOL, false),
            f("firstpass_image", Kind.STR, null),
            f("comments", Kind.DICT, null),
            f("enable_hr", Kind.BOOL, false),
            f("firstphase_width", Kind.INT, 0L),
            f("firstphase_height", Kind.INT, 0L),
            f("hr_scale", Kind.FLOAT, 2.0),
            f("hr_upscaler", Kind.STR, null),
            f("hr_second_pass_steps", Kind.INT, 0L),
            f("hr_resize_x", Kind.INT, 0L),
            f("hr_resize_y", Kind.INT, 0L),
            f("hr_checkpoint_name", Kind.STR, null),
            f("hr_additional_modules", Kind.LIST, null),
            f("hr_sampler_name", Kind.STR, null),
            f("hr_scheduler", Kind.STR, null),
            f("hr_prompt", Kind.STR, ""),
            f("hr_negative_prompt", Kind.STR, ""),
            f("hr_cfg", Kind.FLOAT, 1.0),
            f("hr_distilled_cfg", Kind.FLOAT, 3.5),
            f("force_task_id", Kind.STR, null),
            f("sampler_index", Kind.STR, "Euler"),
            f("script_name", Kind.STR, null),
            f("script_args", Kind.LIST, List.of()),
            f("send_images", Kind.BOOL, true),
            f("save_images", Kind.BOOL, false),
            f("alwayson_scripts", Kind.DICT, Map.of()),
            f("infotext", Kind.STR, null));

    /**
     * Validates a decoded JSON body. {@code body} is null when the request had no body.
     *
     * @throws ApiError 422 with every problem found, in field order
     */
    static Txt2ImgRequest validate(JsonNode body) {
        ArrayNode errors = Json.array();
        if (body == null) {
            errors.add(error("missing", List.of("body"), "Field required", null));
            throw ApiError.validation(errors);
        }
        if (!body.isObject()) {
            errors.add(error(
                    "model_attributes_type",
                    List.of("body"),
                    "Input should be a valid dictionary or object to extract fields from",
                    body));
            throw ApiError.validation(errors);
        }
        ObjectNode parameters = Json.object();
        Set<String> explicit = new java.util.LinkedHashSet<>();
        for (Field field : FIELDS) {
            JsonNode raw = body.get(field.name());
            if (raw == null) {
                parameters.set(field.name(), Json.tree(field.defaultValue()));
                continue;
            }
            explicit.add(field.name());
            parameters.set(field.name(), coerce(field, raw, errors));
        }
        if (!errors.isEmpty()) {
            throw ApiError.validation(errors);
        }
        return new Txt2ImgRequest(parameters, Set.copyOf(explicit));
    }

    // ---- typed accessors (null-safe: a JSON null falls back to the field's default) ----

    String string(String name) {
        JsonNode node = parameters.get(name);
        if (node == null || node.isNull()) {
            Object d = defaultOf(name);
            return d == null ? null : d.toString();
        }
        return node.stringValue();
    }

    long integer(String name) {
        JsonNode node = parameters.get(name);
        if (node == null || node.isNull()) {
            Object d = defaultOf(name);
            return d == null ? 0 : ((Number) d).longValue();
        }
        return node.longValue();
    }

    double number(String name) {
        JsonNode node = parameters.get(name);
        if (node == null || node.isNull()) {
            Object d = defaultOf(name);
            return d == null ? 0 : ((Number) d).doubleValue();
        }
        return node.doubleValue();
    }

    boolean flag(String name) {
        JsonNode node = parameters.get(name);
        if (node == null || node.isNull()) {
            Object d = defaultOf(name);
            return d != null && (Boolean) d;
        }
        return node.booleanValue();
    }

    /** The raw value, or null when absent or JSON null. */
    JsonNode node(String name) {
        JsonNode node = parameters.get(name);
        return node == null || node.isNull() ? null : node;
    }

    boolean isExplicit(String name) {
        return explicit.contains(name);
    }

    /** Returns a copy with {@code name} set (used when {@code infotext} fills fields the client did not send). */
    Txt2ImgRequest with(String name, JsonNode value) {
        ObjectNode copy = parameters.deepCopy();
        copy.set(name, value);
        return new Txt2ImgRequest(copy, explicit);
    }

    private static Object defaultOf(String name) {
        for (Field f : FIELDS) {
            if (f.name().equals(name)) {
                return f.defaultValue();
            }
        }
        throw new IllegalArgumentException("no field " + name);
    }

    private static JsonNode coerce(Field field, JsonNode raw, ArrayNode errors) {
        if (raw.isNull()) {
            return raw;
        }
        List<Object> loc = List.of("body", field.name());
        switch (field.kind()) {
            case STR -> {
                if (raw.isString()) {
                    return raw;
                }
                errors.add(error("string_type", loc, "Input should be a valid string", raw));
            }
            case INT -> {
                JsonNode value = toInt(raw, loc, errors);
                if (value != null) {
                    return value;
                }
            }
            case FLOAT -> {
                if (raw.isNumber()) {
                    return Json.NODES.numberNode(raw.doubleValue());
                }
                if (raw.isBoolean()) {
                    return Json.NODES.numberNode(raw.booleanValue() ? 1.0 : 0.0);
                }
                if (raw.isString()) {
                    try {
                        return Json.NODES.numberNode(
                                Double.parseDouble(raw.stringValue().strip()));
                    } catch (NumberFormatException e) {
                        errors.add(error(
                                "float_parsing",
                                loc,
                                "Input should be a valid number, unable to parse string as a number",
                                raw));
                        return raw;
                    }
                }
                errors.add(error("float_type", loc, "Input should be a valid number", raw));
            }
            case BOOL -> {
                if (raw.isBoolean()) {
                    return raw;
                }
                if (raw.isIntegralNumber() || (raw.isNumber() && raw.doubleValue() == Math.rint(raw.doubleValue()))) {
                    double d = raw.doubleValue();
                    if (d == 0 || d == 1) {
                        return Json.NODES.booleanNode(d == 1);
                    }
                    errors.add(error(
                            "bool_parsing", loc, "Input should be a valid boolean, unable to interpret input", raw));
                    return raw;
                }
                if (raw.isString()) {
                    String word = raw.stringValue().strip().toLowerCase(Locale.ROOT);
                    if (TRUE_WORDS.contains(word) || FALSE_WORDS.contains(word)) {
                        return Json.NODES.booleanNode(TRUE_WORDS.contains(word));
                    }
                    errors.add(error(
                            "bool_parsing", loc, "Input should be a valid boolean, unable to interpret input", raw));
                    return raw;
                }
                errors.add(error("bool_type", loc, "Input should be a valid boolean", raw));
            }
            case LIST_STR -> {
                if (!raw.isArray()) {
                    errors.add(error("list_type", loc, "Input should be a valid list", raw));
                    return raw;
                }
                for (int i = 0; i < raw.size(); i++) {
                    if (!raw.get(i).isString()) {
                        errors.add(error(
                                "string_type",
                                List.of("body", field.name(), i),
                                "Input should be a valid string",
                                raw.get(i)));
                    }
                }
                return raw;
            }
            case LIST -> {
                if (raw.isArray()) {
                    return raw;
                }
                errors.add(error("list_type", loc, "Input should be a valid list", raw));
            }
            case DICT -> {
                if (raw.isObject()) {
                    return raw;
                }
                errors.add(error("dict_type", loc, "Input should be a valid dictionary", raw));
            }
        }
        return raw;
    }

    private static JsonNode toInt(JsonNode raw, List<Object> loc, ArrayNode errors) {
        if (raw.isIntegralNumber()) {
            if (raw.canConvertToLong()) {
                return Json.NODES.numberNode(raw.longValue());
            }
            errors.add(error(
                    "int_parsing_size", loc, "Unable to parse input string as an integer, exceeded maximum size", raw));
            return null;
        }
        if (raw.isBoolean()) {
            return Json.NODES.numberNode(raw.booleanValue() ? 1L : 0L);
        }
        if (raw.isNumber()) {
            double d = raw.doubleValue();
            if (Double.isFinite(d) && d == Math.rint(d) && Math.abs(d) < 9.2e18) {
                return Json.NODES.numberNode((long) d);
            }
            if (!Double.isFinite(d)) {
                errors.add(error("finite_number", loc, "Input should be a finite number", raw));
            } else {
                errors.add(error(
                        "int_from_float",
                        loc,
                        "Input should be a valid integer, got a number with a fractional part",
                        raw));
            }
            return null;
        }
        if (raw.isString()) {
            String s = raw.stringValue();
            if (INT_PATTERN.matcher(s).matches()) {
                BigInteger value = new BigDecimal(s.strip().replace("_", "")).toBigInteger();
                if (value.bitLength() < 64) {
                    return Json.NODES.numberNode(value.longValue());
                }
                errors.add(error(
                        "int_parsing_size",
                        loc,
                        "Unable to parse input string as an integer, exceeded maximum size",
                        raw));
                return null;
            }
            errors.add(error(
                    "int_parsing", loc, "Input should be a valid integer, unable to parse string as an integer", raw));
            return null;
        }
        errors.add(error("int_type", loc, "Input should be a valid integer", raw));
        return null;
    }

    static ObjectNode error(String type, List<Object> loc, String msg, JsonNode input) {
        ObjectNode e = Json.object();
        e.put("type", type);
        ArrayNode locNode = e.putArray("loc");
        for (Object part : loc) {
            if (part instanceof Integer i) {
                locNode.add(i);
            } else {
                locNode.add(part.toString());
            }
        }
        e.put("msg", msg);
        e.set("input", input == null ? Json.NODES.nullNode() : input);
        return e;
    }

    private static Field f(String name, Kind kind, Object defaultValue) {
        return new Field(name, kind, defaultValue);
    }

    /** Names of all fields, for tests. */
    static List<String> fieldNames() {
        List<String> names = new ArrayList<>();
        FIELDS.forEach(f -> names.add(f.name()));
        return names;
    }
}
