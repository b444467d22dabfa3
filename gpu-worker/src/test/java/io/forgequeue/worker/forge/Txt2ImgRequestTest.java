package io.forgequeue.worker.forge;

import static io.forgequeue.model.fixtures.JobSpecBuilder.aSpec;
import static org.assertj.core.api.Assertions.assertThat;

import io.forgequeue.worker.system.WireJson;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

class Txt2ImgRequestTest {

    private final JsonMapper json = WireJson.newMapper();
    private final UUID jobId = UUID.fromString("7f3c2a10-9d7e-4c55-8a0b-2f1e6d4c3b21");

    @Test
    void sendsTheSpecWithForgesFieldNamesAndTheFixedChoices() {
        JsonNode body = json.valueToTree(Txt2ImgRequest.of(
                jobId,
                aSpec().prompt("a lighthouse")
                        .size(832, 1216)
                        .steps(25)
                        .cfgScale(5.5)
                        .sampler("DPM++ 2M")
                        .scheduler("Karras")
                        .seed(4294967294L)
                        .batchSize(2)
                        .checkpoint("sdxl/juggernautXL.safetensors")
                        .build()));

        assertThat(body.get("prompt").asString()).isEqualTo("a lighthouse");
        assertThat(body.get("negative_prompt").asString()).isEqualTo("blurry");
        assertThat(body.get("width").asInt()).isEqualTo(832);
        assertThat(body.get("height").asInt()).isEqualTo(1216);
        assertThat(body.get("steps").asInt()).isEqualTo(25);
        assertThat(body.get("cfg_scale").asDouble()).isEqualTo(5.5);
        assertThat(body.get("sampler_name").asString()).isEqualTo("DPM++ 2M");
        assertThat(body.get("scheduler").asString()).isEqualTo("Karras");
        assertThat(body.get("seed").asLong()).isEqualTo(4294967294L);
        assertThat(body.get("batch_size").asInt()).isEqualTo(2);
        assertThat(body.get("n_iter").asInt()).isEqualTo(1);
        assertThat(body.get("override_settings").get("sd_model_checkpoint").asString())
                .isEqualTo("sdxl/juggernautXL.safetensors");
        assertThat(body.get("override_settings_restore_afterwards").asBoolean()).isFalse();
        assertThat(body.get("send_images").asBoolean()).isTrue();
        assertThat(body.get("save_images").asBoolean()).isFalse();
        assertThat(body.get("force_task_id").asString()).isEqualTo(jobId.toString());
    }

    @Test
    void leavesOutWhatTheSpecLeavesToForge() {
        JsonNode body = json.valueToTree(Txt2ImgRequest.of(
                jobId,
                aSpec().sampler(null).scheduler(null).checkpoint(null).seed(-1).build()));

        assertThat(body.has("sampler_name")).isFalse();
        assertThat(body.has("scheduler")).isFalse();
        assertThat(body.has("override_settings")).isFalse();
        assertThat(body.has("override_settings_restore_afterwards")).isFalse();
        assertThat(body.get("seed").asLong()).isEqualTo(-1L);
    }
}
