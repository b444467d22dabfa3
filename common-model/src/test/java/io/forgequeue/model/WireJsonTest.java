package io.forgequeue.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.forgequeue.model.fixtures.SampleMessages;
import java.util.Base64;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.cfg.EnumFeature;
import tools.jackson.databind.json.JsonMapper;

/** Every message survives a JSON round trip with the settings {@link Contract} prescribes. */
class WireJsonTest {

    private final JsonMapper json = JsonMapper.builder()
            .enable(EnumFeature.READ_UNKNOWN_ENUM_VALUES_USING_DEFAULT_VALUE)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .build();

    @Test
    void everyEventRoundTripsThroughItsSealedInterface() {
        for (JobEvent event : SampleMessages.everyEvent()) {
            String text = json.writeValueAsString(event);

            JobEvent back = json.readValue(text, JobEvent.class);

            assertThat(back).as(text).isEqualTo(event);
            assertThat(json.readTree(text).get("type").asString())
                    .isEqualTo(event.type().name());
        }
    }

    @Test
    void aSpecCarriesOnlyItsSettingsOnTheWire() {
        var tree = json.readTree(json.writeValueAsString(SampleMessages.jobMessage()))
                .get("spec");

        assertThat(tree.propertyNames())
                .containsExactlyInAnyOrder(
                        "prompt",
                        "negativePrompt",
                        "width",
                        "height",
                        "steps",
                        "cfgScale",
                        "sampler",
                        "scheduler",
                        "seed",
                        "checkpoint",
                        "batchSize");
    }

    @Test
    void jobMessageCancelAndPreviewRoundTrip() {
        assertThat(json.readValue(json.writeValueAsString(SampleMessages.jobMessage()), JobMessage.class))
                .isEqualTo(SampleMessages.jobMessage());
        assertThat(json.readValue(json.writeValueAsString(SampleMessages.cancel()), CancelJobCommand.class))
                .isEqualTo(SampleMessages.cancel());
        assertThat(json.readValue(json.writeValueAsString(SampleMessages.preview()), JobPreview.class))
                .isEqualTo(SampleMessages.preview());
        assertThat(json.readValue(json.writeValueAsString(SampleMessages.stopAssignment()), CancelJobCommand.class))
                .isEqualTo(SampleMessages.stopAssignment());
        assertThat(json.readValue(json.writeValueAsString(SampleMessages.workerStatus()), WorkerStatus.class))
                .isEqualTo(SampleMessages.workerStatus());
    }

    @Test
    void aWorkerStatusFromANewerWorkerReadsWithAnUnknownStateAsNotAvailable() {
        String text = """
                {"workerId":"w","instance":"%s","pool":"default","state":"HIBERNATING","seq":3,"intervalMillis":1000,
                 "sentAt":"2026-11-22T10:00:00Z","forge":{"identity":"http://f:7860","gpuName":"A100"},"extra":1}
                """.formatted(UUID.randomUUID());

        WorkerStatus status = json.readValue(text, WorkerStatus.class);

        assertThat(status.state()).isEqualTo(WorkerState.UNKNOWN);
        assertThat(status.state().takesJobs()).isFalse();
        assertThat(status.forge().checkpoints()).isEmpty();
        assertThat(status.running()).isNull();
    }

    @Test
    void anOwnersCancelStopsEveryAttemptAndAnAssignmentStopOnlyItsOwn() {
        assertThat(SampleMessages.cancel().stops(7, "any-worker")).isTrue();
        assertThat(SampleMessages.cancel().isOwnersCancel()).isTrue();
        assertThat(SampleMessages.stopAssignment().stops(2, SampleMessages.WORKER_ID))
                .isTrue();
        assertThat(SampleMessages.stopAssignment().stops(3, SampleMessages.WORKER_ID))
                .isFalse();
        assertThat(SampleMessages.stopAssignment().stops(2, "another-worker")).isFalse();
        assertThat(SampleMessages.stopAssignment().isOwnersCancel()).isFalse();
    }

    @Test
    void imageBytesTravelAsBase64AndInstantsAsIsoText() {
        JobSucceeded done = (JobSucceeded) SampleMessages.everyEvent().get(3);

        var tree = json.readTree(json.writeValueAsString(done));

        assertThat(tree.get("images").get(0).get("data").asString())
                .isEqualTo(Base64.getEncoder().encodeToString(SampleMessages.PNG_BYTES));
        assertThat(tree.get("occurredAt").asString()).isEqualTo("2026-11-22T10:15:30.123456Z");
        assertThat(tree.get("metadata").has("faceRestorationModel")).isTrue();
    }

    @Test
    void readsMessagesFromANewerSenderWithUnknownFieldsAndCodes() {
        String text = """
                {"type":"FAILED","jobId":"%s","attempt":3,"workerId":"gpu-z","seq":9,
                 "occurredAt":"2026-11-22T10:00:00Z","code":"SOMETHING_NEW","message":"new kind of failure",
                 "retryable":false,"metadata":{},"addedInVersion2":{"nested":true}}
                """.formatted(SampleMessages.JOB_ID);

        JobFailed failed = (JobFailed) json.readValue(text, JobEvent.class);

        assertThat(failed.code()).isEqualTo(ErrorCode.UNKNOWN);
        assertThat(failed.message()).isEqualTo("new kind of failure");
        assertThat(failed.attempt()).isEqualTo(3);
    }

    @Test
    void jobMessageToleratesUnknownFieldsAndAnImpossibleSpec() {
        String text = """
                {"jobId":"%s","attempt":1,"workerId":"w","ticket":7,"pool":"default","submittedAt":"2026-11-22T10:00:00Z","priority":5,
                 "spec":{"prompt":"","width":3,"height":64,"steps":0,"cfgScale":7,"seed":-1,"batchSize":1,"lora":"x"}}
                """.formatted(UUID.randomUUID());

        JobMessage message = json.readValue(text, JobMessage.class);

        assertThat(message.spec().violations())
                .extracting(FieldViolation::field)
                .containsExactly("prompt", "width", "steps");
        assertThat(message.spec().negativePrompt()).isEmpty();
    }

    @Test
    void refusesAnEventWithoutItsIdentity() {
        String text = """
                {"type":"HEARTBEAT","attempt":1,"workerId":"w","seq":1,"occurredAt":"2026-11-22T10:00:00Z"}""";

        assertThatThrownBy(() -> json.readValue(text, JobEvent.class))
                .hasRootCauseInstanceOf(NullPointerException.class);
    }

    @Test
    void aJobMessageWithoutAnAssignmentIsRefused() {
        String text = """
                {"jobId":"%s","ticket":7,"pool":"default","submittedAt":"2026-11-22T10:00:00Z",
                 "spec":{"prompt":"x","width":64,"height":64,"steps":1,"cfgScale":7,"seed":-1,"batchSize":1}}
                """.formatted(UUID.randomUUID());

        assertThatThrownBy(() -> json.readValue(text, JobMessage.class)).isInstanceOf(JacksonException.class);
    }

    @Test
    void namesOfOneCheckpointCompareEqualInCanonicalForm() {
        assertThat(WorkerStatus.ForgeOffer.canonical("sdxl/juggernaut.safetensors [a1b2c3d4e5]"))
                .isEqualTo("sdxl_juggernaut");
        assertThat(WorkerStatus.ForgeOffer.canonical("sdxl/juggernaut.safetensors"))
                .isEqualTo("sdxl_juggernaut");
        assertThat(WorkerStatus.ForgeOffer.canonical("sdxl_juggernaut")).isEqualTo("sdxl_juggernaut");
        assertThat(WorkerStatus.ForgeOffer.canonical("flux1-dev.v2"))
                .as("not an extension")
                .isEqualTo("flux1-dev.v2");
        assertThat(WorkerStatus.ForgeOffer.canonical(null)).isNull();
    }
}
