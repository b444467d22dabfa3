package io.forgequeue.worker.forge;

import static org.assertj.core.api.Assertions.assertThat;

import io.forgequeue.worker.system.WireJson;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

class ForgeInfoTest {

    private final JsonMapper json = WireJson.newMapper();

    /** A txt2img response whose info is, as in Forge, a JSON document inside a JSON string. */
    private JsonNode infoOf(String responseJson) {
        return json.readTree(responseJson).get("info");
    }

    @Test
    void parsesInfoTwiceBecauseItIsAJsonString() {
        JsonNode info = infoOf("""
                {"images":[],"parameters":{},"info":"{\\"seed\\": 4294967290, \\"all_seeds\\": [4294967290, 4294967291],\
                 \\"sd_model_name\\": \\"juggernautXL\\", \\"sd_model_hash\\": \\"d91d35736d\\",\
                 \\"sampler_name\\": \\"DPM++ 2M\\", \\"index_of_first_image\\": 0, \\"steps\\": 25,\
                 \\"cfg_scale\\": 5.5, \\"width\\": 832, \\"height\\": 1216, \\"job_timestamp\\": \\"20250101120000\\",\
                 \\"infotexts\\": [\\"a lighthouse\\\\nSteps: 25, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 5.5\\"],\
                 \\"face_restoration_model\\": null, \\"extra\\": {\\"unknown\\": true}}"}""");

        ForgeInfo parsed = ForgeInfo.parse(info, json);

        assertThat(info.isString()).isTrue();
        assertThat(parsed.seed()).isEqualTo(4294967290L);
        assertThat(parsed.allSeeds()).containsExactly(4294967290L, 4294967291L);
        assertThat(parsed.sdModelName()).isEqualTo("juggernautXL");
        assertThat(parsed.sdModelHash()).isEqualTo("d91d35736d");
        assertThat(parsed.sampler()).isEqualTo("DPM++ 2M");
        assertThat(parsed.scheduler()).isEqualTo("Karras");
        assertThat(parsed.steps()).isEqualTo(25);
        assertThat(parsed.cfgScale()).isEqualTo(5.5);
        assertThat(parsed.width()).isEqualTo(832);
        assertThat(parsed.height()).isEqualTo(1216);
        assertThat(parsed.jobTimestamp()).isEqualTo("20250101120000");
        assertThat(parsed.toMetadata())
                .containsEntry("sdModelName", "juggernautXL")
                .containsEntry("scheduler", "Karras")
                .doesNotContainKey("faceRestorationModel");
    }

    @Test
    void acceptsInfoThatIsAlreadyAnObject() {
        ForgeInfo parsed = ForgeInfo.parse(infoOf("{\"info\":{\"seed\":7,\"index_of_first_image\":1}}"), json);

        assertThat(parsed.seed()).isEqualTo(7L);
        assertThat(parsed.indexOfFirstImage()).isEqualTo(1);
    }

    @Test
    void givesEmptyInfoForMissingNullOrUnreadableInfo() {
        assertThat(ForgeInfo.parse(null, json)).isEqualTo(ForgeInfo.EMPTY);
        assertThat(ForgeInfo.parse(infoOf("{\"info\":null}"), json)).isEqualTo(ForgeInfo.EMPTY);
        assertThat(ForgeInfo.parse(infoOf("{\"info\":\"not json {\"}"), json)).isEqualTo(ForgeInfo.EMPTY);
        assertThat(ForgeInfo.parse(infoOf("{\"info\":\"[1,2]\"}"), json)).isEqualTo(ForgeInfo.EMPTY);
    }

    @Test
    void toleratesNullsAndWrongTypesInInfo() {
        ForgeInfo parsed = ForgeInfo.parse(infoOf("""
                {"info":"{\\"seed\\": null, \\"all_seeds\\": [1, null, \\"x\\", 3], \\"sd_model_name\\": null,\
                 \\"index_of_first_image\\": -4}"}"""), json);

        assertThat(parsed.seed()).isNull();
        assertThat(parsed.allSeeds()).containsExactly(1L, 3L);
        assertThat(parsed.sdModelName()).isNull();
        assertThat(parsed.indexOfFirstImage()).isZero();
    }

    @Test
    void takesTheSeedOfEachImageFromAllSeedsThenFromSeedThenFromTheRequest() {
        ForgeInfo withAll = new ForgeInfo(
                10L, java.util.List.of(10L, 20L), 0, null, null, null, null, null, null, null, null, null, null);
        ForgeInfo withSeed =
                new ForgeInfo(10L, java.util.List.of(), 0, null, null, null, null, null, null, null, null, null, null);

        assertThat(withAll.seedOf(1, 99)).isEqualTo(20L);
        assertThat(withAll.seedOf(2, 99)).isEqualTo(12L);
        assertThat(withSeed.seedOf(3, 99)).isEqualTo(13L);
        assertThat(ForgeInfo.EMPTY.seedOf(2, 99)).isEqualTo(101L);
        assertThat(ForgeInfo.EMPTY.seedOf(2, -1)).isEqualTo(-1L);
    }
}
