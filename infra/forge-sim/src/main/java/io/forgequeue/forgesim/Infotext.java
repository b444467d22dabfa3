package io.forgequeue.forgesim;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Forge's infotext ("parameters" text): building it ({@code create_infotext}) and reading it back
 * ({@code parse_generation_parameters}, the part the {@code infotext} request field uses).
 */
final class Infotext {

    /** Forge's {@code program_version()} at the commit forge-api.md was written against. */
    static final String VERSION = "f2.0.1v1.10.1-previous-669-gdfdcbab6";

    private static final Pattern PARAM =
            Pattern.compile("\\s*(\\w[\\w \\-/]+):\\s*(\"(?:\\\\.|[^\\\\\"])+\"|[^,]*)(?:,|$)");

    private Infotext() {}

    /**
     * {@code f"{prompt}{negative}\n{k: v, ...}".strip()}, omitting null values and quoting values that contain ',',
     * ':' or a newline.
     */
    static String build(String prompt, String negativePrompt, Map<String, Object> params) {
        StringBuilder line = new StringBuilder();
        for (Map.Entry<String, Object> e : params.entrySet()) {
            if (e.getValue() == null) {
                continue;
            }
            if (line.length() > 0) {
                line.append(", ");
            }
            String value = pythonStr(e.getValue());
            if (e.getKey().equals(value)) {
                line.append(e.getKey());
            } else {
                line.append(e.getKey()).append(": ").append(quote(value));
            }
        }
        String negative =
                negativePrompt == null || negativePrompt.isEmpty() ? "" : "\nNegative prompt: " + negativePrompt;
        return (prompt + negative + "\n" + line).strip();
    }

    /** Python's {@code str()} of a parameter value. */
    static String pythonStr(Object value) {
        if (value instanceof Double d) {
            return Json.pythonFloat(d);
        }
        if (value instanceof Boolean b) {
            return b ? "True" : "False";
        }
        return String.valueOf(value);
    }

    /** {@code infotext_utils.quote}: JSON-quote a value holding ',', ':' or a newline. */
    static String quote(String text) {
        if (!text.contains(",") && !text.contains("\n") && !text.contains(":")) {
            return text;
        }
        StringBuilder sb = new StringBuilder("\"");
        for (char c : text.toCharArray()) {
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> sb.append(c);
            }
        }
        return sb.append('"').toString();
    }

    /**
     * Reads an infotext into "Prompt", "Negative prompt" and the key/value pairs of its last line; "Size" is also
     * split into "Size-1" and "Size-2", as Forge does.
     */
    static Map<String, String> parse(String text) {
        Map<String, String> result = new LinkedHashMap<>();
        String[] lines = text.strip().split("\n", -1);
        int end = lines.length;
        String last = lines[lines.length - 1];
        Matcher m = PARAM.matcher(last);
        int matches = 0;
        Map<String, String> params = new LinkedHashMap<>();
        while (m.find()) {
            if (m.group(1) == null) {
                break;
            }
            matches++;
            String value = m.group(2).strip();
            if (value.length() >= 2 && value.startsWith("\"") && value.endsWith("\"")) {
                value = unquote(value);
            }
            params.put(m.group(1).strip(), value);
        }
        if (matches >= 3) {
            end = lines.length - 1;
        } else {
            params.clear();
        }
        StringBuilder prompt = new StringBuilder();
        StringBuilder negative = new StringBuilder();
        boolean inNegative = false;
        for (int i = 0; i < end; i++) {
            String line = lines[i].strip();
            if (line.startsWith("Negative prompt:")) {
                inNegative = true;
                line = line.substring("Negative prompt:".length()).strip();
            }
            StringBuilder target = inNegative ? negative : prompt;
            if (target.length() > 0) {
                target.append('\n');
            }
            target.append(line);
        }
        result.put("Prompt", prompt.toString());
        result.put("Negative prompt", negative.toString());
        result.putAll(params);
        String size = params.get("Size");
        if (size != null && size.matches("\\d+x\\d+")) {
            String[] wh = size.split("x");
            result.put("Size-1", wh[0]);
            result.put("Size-2", wh[1]);
        }
        return result;
    }

    private static String unquote(String quoted) {
        try {
            return Json.MAPPER.readTree(quoted).stringValue();
        } catch (RuntimeException e) {
            return quoted;
        }
    }
}
