package io.forgequeue.forgesim;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class InfotextTest {

    @Test
    void buildsForgesParametersTextSkippingNullsAndQuotingValuesWithCommas() {
        Map<String, Object> params = new LinkedHashMap<>();
        params.put("Steps", 20L);
        params.put("Sampler", "Euler a");
        params.put("CFG scale", 7.0);
        params.put("Seed", 42L);
        params.put("Variation seed", null);
        params.put("Hires upscaler", "a, b");

        String text = Infotext.build("a cat", "blurry", params);

        assertThat(text)
                .isEqualTo(
                        "a cat\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, CFG scale: 7.0, Seed: 42, Hires upscaler: \"a, b\"");
        assertThat(Infotext.build("a cat", "", Map.of("Steps", 20L))).isEqualTo("a cat\nSteps: 20");
    }

    @Test
    void readsAnInfotextBack() {
        Map<String, String> parsed = Infotext.parse(
                "a cat, on a mat\nNegative prompt: ugly\n"
                        + "Steps: 12, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 5.5, Seed: 99, Size: 640x480, Extra: \"x, y\"");

        assertThat(parsed)
                .containsEntry("Prompt", "a cat, on a mat")
                .containsEntry("Negative prompt", "ugly")
                .containsEntry("Steps", "12")
                .containsEntry("Sampler", "DPM++ 2M")
                .containsEntry("Seed", "99")
                .containsEntry("Size-1", "640")
                .containsEntry("Size-2", "480")
                .containsEntry("Extra", "x, y");
        assertThat(Infotext.parse("just a prompt"))
                .containsEntry("Prompt", "just a prompt")
                .doesNotContainKey("Steps");
    }

    @Test
    void serialisesLikePythonsJsonDumps() {
        var node = Json.object()
                .put("a", 7.0)
                .put("b", "caf\u00e9 \"q\"\n")
                .put("c", 1e-5)
                .put("d", 3L)
                .put("e", true);
        node.putArray("f").add(1).add(2);
        node.putNull("g");

        assertThat(Json.pythonDumps(node))
                .isEqualTo(
                        "{\"a\": 7.0, \"b\": \"caf\\u00e9 \\\"q\\\"\\n\", \"c\": 1e-05, \"d\": 3, \"e\": true, \"f\": [1, 2], \"g\": null}");
        assertThat(Json.pythonFloat(0.75)).isEqualTo("0.75");
        assertThat(Json.pythonFloat(2e16)).isEqualTo("2e+16");
    }

    @Test
    void quotesLikePythonsRepr() {
        assertThat(Options.pythonRepr("x")).isEqualTo("'x'");
        assertThat(Options.pythonRepr("it's")).isEqualTo("\"it's\"");
        assertThat(Options.pythonRepr(Json.NODES.numberNode(5))).isEqualTo("5");
    }
}
