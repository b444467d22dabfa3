package io.forgequeue.forgesim;

import static org.assertj.core.api.Assertions.assertThat;

import java.awt.image.BufferedImage;
import java.io.IOException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/** POST /sdapi/v1/txt2img over HTTP against an in-process sim. */
class Txt2ImgApiTest {

    private ForgeSimServer sim;

    private SimClient forge;

    @BeforeEach
    void startSim() {
        sim = SimTestSupport.startSim("--step-ms", "0", "--model-load-ms", "0");
        forge = new SimClient(sim.baseUrl());
    }

    @AfterEach
    void stopSim() {
        sim.close();
    }

    @Test
    void answersWithImagesParametersAndAnInfoStringThatIsJsonAgain() {
        SimClient.Reply reply = forge.txt2img(
                "{\"prompt\":\"a lighthouse at dusk\",\"negative_prompt\":\"blurry\",\"steps\":8,"
                        + "\"width\":64,\"height\":48,\"seed\":1234,\"cfg_scale\":5.5,\"sampler_name\":\"Euler a\",\"unknown_field\":true}");

        assertThat(reply.status()).isEqualTo(200);
        assertThat(reply.headers().firstValue("content-type")).hasValue("application/json");
        JsonNode body = reply.json();
        assertThat(body.propertyNames()).containsExactly("images", "parameters", "info");
        assertThat(body.get("images")).hasSize(1);
        assertThat(body.get("images").get(0).stringValue())
                .startsWith("iVBORw0KGgo")
                .doesNotStartWith("data:");
        JsonNode parameters = body.get("parameters");
        assertThat(parameters.get("prompt").stringValue()).isEqualTo("a lighthouse at dusk");
        assertThat(parameters.get("steps").asInt()).isEqualTo(8);
        assertThat(parameters.get("sampler_name").stringValue()).isEqualTo("Euler a");
        assertThat(parameters.get("n_iter").asInt()).as("defaults are echoed").isEqualTo(1);
        assertThat(parameters.has("unknown_field")).isFalse();
        assertThat(body.get("info").isString()).isTrue();
        assertThat(body.get("info").stringValue())
                .startsWith("{\"prompt\": \"a lighthouse at dusk\", \"all_prompts\": [");

        JsonNode info = reply.info();
        assertThat(info.propertyNames())
                .contains(
                        "prompt",
                        "all_prompts",
                        "negative_prompt",
                        "seed",
                        "all_seeds",
                        "subseed",
                        "all_subseeds",
                        "width",
                        "height",
                        "sampler_name",
                        "cfg_scale",
                        "steps",
                        "batch_size",
                        "sd_model_name",
                        "sd_model_hash",
                        "index_of_first_image",
                        "infotexts",
                        "job_timestamp",
                        "version");
        assertThat(info.get("seed").asLong()).isEqualTo(1234);
        assertThat(info.get("width").asInt()).isEqualTo(64);
        assertThat(info.get("sampler_name").stringValue()).isEqualTo("Euler a");
        assertThat(info.get("cfg_scale").doubleValue()).isEqualTo(5.5);
        assertThat(info.get("sd_model_name").stringValue()).isEqualTo("sd_xl_base_1.0");
        assertThat(info.get("sd_model_hash").stringValue()).matches("[0-9a-f]{10}");
        assertThat(info.get("job_timestamp").stringValue()).matches("\\d{14}");
        assertThat(info.get("index_of_first_image").asInt()).isZero();
        assertThat(info.has("scheduler"))
                .as("scheduler is only inside the infotext")
                .isFalse();
        assertThat(info.get("infotexts").get(0).stringValue())
                .isEqualTo("a lighthouse at dusk\nNegative prompt: blurry\n"
                        + "Steps: 8, Sampler: Euler a, Schedule type: Automatic, CFG scale: 5.5, Seed: 1234, Size: 64x48, Model hash: "
                        + info.get("sd_model_hash").stringValue() + ", Model: sd_xl_base_1.0, Version: "
                        + Infotext.VERSION);
    }

    @Test
    void returnsRealPngsOfTheRequestedSizeCarryingTheInfotext() throws IOException {
        SimClient.Reply reply =
                forge.txt2img("{\"prompt\":\"fox\",\"steps\":3,\"width\":200,\"height\":120,\"seed\":5}");

        BufferedImage image = reply.image(0);

        assertThat(image.getWidth()).isEqualTo(200);
        assertThat(image.getHeight()).isEqualTo(120);
        assertThat(ImageEncodingTest.imageIoText(reply.imageBytes(0)))
                .isEqualTo(reply.info().get("infotexts").get(0).stringValue());
    }

    @Test
    void drawsTheSameImageForTheSamePromptAndSeed() {
        String request = "{\"prompt\":\"red barn\",\"steps\":2,\"width\":64,\"height\":64,\"seed\":77}";

        SimClient.Reply first = forge.txt2img(request);
        SimClient.Reply second = forge.txt2img(request);
        SimClient.Reply otherSeed = forge.txt2img(request.replace("77", "78"));

        assertThat(first.json().get("images").get(0))
                .isEqualTo(second.json().get("images").get(0));
        assertThat(first.json().get("images").get(0))
                .isNotEqualTo(otherSeed.json().get("images").get(0));
    }

    @Test
    void givesImageIItsSeedPlusIAcrossBatchesAndIterations() {
        SimClient.Reply reply = forge.txt2img("{\"prompt\":\"p\",\"steps\":2,\"width\":32,\"height\":32,\"seed\":100,"
                + "\"batch_size\":2,\"n_iter\":2}");

        JsonNode info = reply.info();
        assertThat(reply.imageCount()).isEqualTo(4);
        assertThat(info.get("all_seeds").toString()).isEqualTo("[100,101,102,103]");
        assertThat(info.get("all_subseeds")).hasSize(4);
        assertThat(info.get("all_prompts")).hasSize(4);
        for (int i = 0; i < 4; i++) {
            assertThat(info.get("infotexts").get(i).stringValue()).contains("Seed: " + (100 + i) + ",");
            assertThat(ImageEncodingTest.textChunk(reply.imageBytes(i), "tEXt")).contains("Seed: " + (100 + i) + ",");
        }
    }

    @Test
    void picksARandomSeedBelow4294967294ForMinusOneOrNull() {
        long a = forge.txt2img("{\"steps\":1,\"width\":16,\"height\":16,\"seed\":-1}")
                .info()
                .get("seed")
                .asLong();
        long b = forge.txt2img("{\"steps\":1,\"width\":16,\"height\":16,\"seed\":null}")
                .info()
                .get("seed")
                .asLong();
        long c = forge.txt2img("{\"steps\":1,\"width\":16,\"height\":16}")
                .info()
                .get("seed")
                .asLong();

        assertThat(a).isBetween(0L, 4294967293L);
        assertThat(b).isBetween(0L, 4294967293L);
        assertThat(c).isBetween(0L, 4294967293L);
        assertThat(a == b && b == c).isFalse();
    }

    @Test
    void putsAGridFirstWhenSaveImagesIsTrueWithSeveralImages() {
        SimClient.Reply reply = forge.txt2img("{\"prompt\":\"g\",\"steps\":1,\"width\":32,\"height\":24,\"seed\":1,"
                + "\"batch_size\":2,\"n_iter\":2,\"save_images\":true}");
        SimClient.Reply single = forge.txt2img("{\"steps\":1,\"width\":32,\"height\":24,\"save_images\":true}");

        assertThat(reply.imageCount()).isEqualTo(5);
        assertThat(reply.info().get("index_of_first_image").asInt()).isEqualTo(1);
        assertThat(reply.info().get("infotexts")).hasSize(5);
        assertThat(reply.image(0).getWidth()).isEqualTo(64);
        assertThat(reply.image(0).getHeight()).isEqualTo(48);
        assertThat(reply.image(1).getWidth()).isEqualTo(32);
        assertThat(single.imageCount()).isEqualTo(1);
        assertThat(single.info().get("index_of_first_image").asInt()).isZero();
    }

    @Test
    void sendsNoImagesWhenSendImagesIsFalseButStillDescribesThem() {
        SimClient.Reply reply =
                forge.txt2img("{\"steps\":1,\"width\":16,\"height\":16,\"batch_size\":3,\"send_images\":false}");

        assertThat(reply.imageCount()).isZero();
        assertThat(reply.info().get("infotexts")).hasSize(3);
    }

    @Test
    void replacesAnUnknownSamplerWithTheFirstSamplerAndSplitsLegacyNames() {
        JsonNode unknown = forge.txt2img(
                        "{\"steps\":1,\"width\":16,\"height\":16,\"sampler_name\":\"[Forge] Flux Realistic\"}")
                .info();
        JsonNode legacy = forge.txt2img("{\"steps\":1,\"width\":16,\"height\":16,\"sampler_name\":\"DPM++ 2M Karras\"}")
                .info();
        JsonNode none =
                forge.txt2img("{\"steps\":1,\"width\":16,\"height\":16}").info();

        assertThat(unknown.get("sampler_name").stringValue()).isEqualTo("DPM++ 2M");
        assertThat(legacy.get("sampler_name").stringValue()).isEqualTo("DPM++ 2M");
        assertThat(legacy.get("infotexts").get(0).stringValue()).contains("Sampler: DPM++ 2M, Schedule type: Karras,");
        assertThat(none.get("sampler_name").stringValue())
                .as("sampler_index defaults to Euler")
                .isEqualTo("Euler");
    }

    @Test
    void ignoresAnUnknownCheckpointInOverrideSettingsAndUsesAKnownOneForThisJobOnly() {
        JsonNode unknown = forge.txt2img("{\"steps\":1,\"width\":16,\"height\":16,"
                        + "\"override_settings\":{\"sd_model_checkpoint\":\"no-such-model.safetensors\"}}")
                .info();
        JsonNode known = forge.txt2img("{\"steps\":1,\"width\":16,\"height\":16,"
                        + "\"override_settings\":{\"sd_model_checkpoint\":\"flux1-dev-bnb-nf4-v2\"}}")
                .info();
        JsonNode after = forge.get("/sdapi/v1/options").json();

        assertThat(unknown.get("sd_model_name").stringValue()).isEqualTo("sd_xl_base_1.0");
        assertThat(known.get("sd_model_name").stringValue()).isEqualTo("flux1-dev-bnb-nf4-v2");
        assertThat(known.get("infotexts").get(0).stringValue()).contains("Distilled CFG Scale: 3.5");
        assertThat(after.get("sd_model_checkpoint").stringValue())
                .as("restored afterwards")
                .startsWith("sd_xl_base_1.0.safetensors [");
    }

    @Test
    void failsWithA500KeyErrorForAnUnknownOptionInOverrideSettings() {
        SimClient.Reply reply =
                forge.txt2img("{\"steps\":1,\"width\":16,\"height\":16,\"override_settings\":{\"no_such_option\":1}}");

        assertThat(reply.status()).isEqualTo(500);
        assertThat(reply.text())
                .isEqualTo("{\"error\":\"KeyError\",\"detail\":\"\",\"body\":\"\",\"message\":\"'no_such_option'\"}");
        assertThat(forge.txt2img("{\"steps\":1,\"width\":16,\"height\":16}").status())
                .as("the server takes the next job")
                .isEqualTo(200);
    }

    @Test
    void rejectsTypeErrorsWith422InPydanticV2Shape() {
        SimClient.Reply reply = forge.txt2img("{\"steps\":\"many\",\"width\":64}");

        assertThat(reply.status()).isEqualTo(422);
        assertThat(reply.text())
                .isEqualTo(
                        "{\"detail\":[{\"type\":\"int_parsing\",\"loc\":[\"body\",\"steps\"],"
                                + "\"msg\":\"Input should be a valid integer, unable to parse string as an integer\",\"input\":\"many\"}]}");
    }

    @Test
    void rejectsMalformedJsonAndAMissingBodyWith422() {
        SimClient.Reply malformed = forge.txt2img("{\"steps\": ");
        SimClient.Reply empty = forge.txt2img("");

        assertThat(malformed.status()).isEqualTo(422);
        assertThat(malformed.json().get("detail").get(0).get("type").stringValue())
                .isEqualTo("json_invalid");
        assertThat(malformed.json().get("detail").get(0).get("loc").get(0).stringValue())
                .isEqualTo("body");
        assertThat(empty.status()).isEqualTo(422);
        assertThat(empty.json().get("detail").get(0).get("type").stringValue()).isEqualTo("missing");
    }

    @Test
    void rejectsAnUnknownScriptWith422AndADetailString() {
        SimClient.Reply script = forge.txt2img("{\"steps\":1,\"script_name\":\"x\"}");
        SimClient.Reply alwaysOn = forge.txt2img("{\"steps\":1,\"alwayson_scripts\":{\"nope\":{\"args\":[]}}}");
        SimClient.Reply known = forge.txt2img("{\"steps\":1,\"width\":16,\"height\":16,\"script_name\":\"X/Y/Z plot\","
                + "\"alwayson_scripts\":{\"ControlNet\":{\"args\":[]}}}");

        assertThat(script.status()).isEqualTo(422);
        assertThat(script.text()).isEqualTo("{\"detail\":\"Script 'x' not found\"}");
        assertThat(alwaysOn.text()).isEqualTo("{\"detail\":\"always on script nope not found\"}");
        assertThat(known.status()).isEqualTo(200);
    }

    @Test
    void fillsFieldsTheClientDidNotSendFromTheInfotextField() {
        JsonNode info = forge.txt2img(
                        "{\"width\":16,\"height\":16,\"steps\":2,"
                                + "\"infotext\":\"a pasted prompt\\nSteps: 30, Sampler: Heun, CFG scale: 4.0, Seed: 9, Size: 640x480\"}")
                .info();

        assertThat(info.get("prompt").stringValue()).isEqualTo("a pasted prompt");
        assertThat(info.get("steps").asInt()).as("sent explicitly, so kept").isEqualTo(2);
        assertThat(info.get("width").asInt()).isEqualTo(16);
        assertThat(info.get("sampler_name").stringValue()).isEqualTo("Heun");
        assertThat(info.get("seed").asLong()).isEqualTo(9);
    }

    @Test
    void runsTheHiresPassAtTheUpscaledSize() {
        SimClient.Reply reply =
                forge.txt2img("{\"steps\":2,\"width\":32,\"height\":16,\"enable_hr\":true,\"hr_scale\":2,"
                        + "\"hr_upscaler\":\"Latent\",\"hr_second_pass_steps\":3}");
        SimClient.Reply badUpscaler =
                forge.txt2img("{\"steps\":1,\"width\":16,\"height\":16,\"enable_hr\":true,\"hr_upscaler\":\"Nope\"}");

        assertThat(reply.image(0).getWidth()).isEqualTo(64);
        assertThat(reply.image(0).getHeight()).isEqualTo(32);
        assertThat(reply.info().get("infotexts").get(0).stringValue())
                .contains("Hires upscale: 2.0", "Hires steps: 3", "Hires upscaler: Latent");
        assertThat(badUpscaler.status()).isEqualTo(500);
        assertThat(badUpscaler.json().get("message").stringValue()).isEqualTo("could not find upscaler named Nope");
    }

    @Test
    void gzipsLargeAnswersWhenTheClientAcceptsIt() {
        var request = forge.request("/sdapi/v1/txt2img")
                .header("Content-Type", "application/json")
                .header("Accept-Encoding", "gzip")
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{\"steps\":1,\"width\":64,\"height\":64}"))
                .build();

        SimClient.Reply reply = forge.send(request);

        assertThat(reply.status()).isEqualTo(200);
        assertThat(reply.headers().firstValue("content-encoding")).hasValue("gzip");
    }
}
