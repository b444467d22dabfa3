package io.forgequeue.forgesim;

import java.util.Map;
import tools.jackson.core.json.JsonReadFeature;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.JsonNodeFactory;
import tools.jackson.databind.node.ObjectNode;

/** The one JSON mapper of the sim, plus Python's {@code json.dumps} format for Forge's {@code info} string. */
final class Json {

    static final JsonMapper MAPPER = JsonMapper.builder()
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS) // Python's json accepts NaN and Infinity
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .build();

    static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private Json() {}

    static ObjectNode object() {
        return NODES.objectNode();
    }

    static ArrayNode array() {
        return NODES.arrayNode();
    }

    static byte[] bytes(JsonNode node) {
        return MAPPER.writeValueAsBytes(node);
    }

    static JsonNode tree(Object value) {
        if (value == null) {
            return NODES.nullNode();
        }
        JsonNode node = MAPPER.valueToTree(value);
        return node == null ? NODES.nullNode() : node;
    }

    static ObjectNode objectOf(Map<String, ?> map) {
        ObjectNode node = object();
        map.forEach((k, v) -> node.set(k, tree(v)));
        return node;
    }

    /**
     * Serialises like Python's {@code json.dumps(obj)} with default arguments: separators {@code ", "} and
     * {@code ": "}, non-ASCII escaped as {@code \\uXXXX}, floats in Python's repr ({@code 7.0}, {@code 1e-05}).
     */
    static String pythonDumps(JsonNode node) {
        StringBuilder sb = new StringBuilder(256);
        writePython(sb, node);
        return sb.toString();
    }

    private static void writePython(StringBuilder sb, JsonNode node) {
        if (node == null || node.isNull() || node.isMissingNode()) {
            sb.append("null");
        } else if (node.isObject()) {
            sb.append('{');
            boolean first = true;
            for (Map.Entry<String, JsonNode> e : node.properties()) {
                if (!first) {
                    sb.append(", ");
                }
                first = false;
                writePythonString(sb, e.getKey());
                sb.append(": ");
                writePython(sb, e.getValue());
            }
            sb.append('}');
        } else if (node.isArray()) {
            sb.append('[');
            for (int i = 0; i < node.size(); i++) {
                if (i > 0) {
                    sb.append(", ");
                }
                writePython(sb, node.get(i));
            }
            sb.append(']');
        } else if (node.isString()) {
            writePythonString(sb, node.stringValue());
        } else if (node.isBoolean()) {
            sb.append(node.booleanValue() ? "true" : "false");
        } else if (node.isIntegralNumber()) {
            sb.append(node.bigIntegerValue());
        } else if (node.isNumber()) {
            sb.append(pythonFloat(node.doubleValue()));
        } else {
            writePythonString(sb, node.asString());
        }
    }

    static String pythonFloat(double d) {
        if (Double.isNaN(d)) {
            return "NaN";
        }
        if (Double.isInfinite(d)) {
            return d > 0 ? "Infinity" : "-Infinity";
        }
        double abs = Math.abs(d);
        if (abs != 0 && (abs < 1e-4 || abs >= 1e16)) {
            // Python: 1e-05, 1.5e+16; Java: 1.0E-5, 1.5E16
            String s = Double.toString(d);
            int e = s.indexOf('E');
            String mantissa = s.substring(0, e);
            if (mantissa.endsWith(".0")) {
                mantissa = mantissa.substring(0, mantissa.length() - 2);
            }
            int exponent = Integer.parseInt(s.substring(e + 1));
            return mantissa + "e" + (exponent < 0 ? "-" : "+") + String.format("%02d", Math.abs(exponent));
        }
        String s = Double.toString(d);
        if (s.contains("E")) {
            s = new java.math.BigDecimal(s).toPlainString();
            if (!s.contains(".")) {
                s = s + ".0";
            }
        }
        return s;
    }

    private static void writePythonString(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (c < 0x20 || c > 0x7e) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }
}
