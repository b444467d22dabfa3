package io.forgequeue.forgesim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

class GenerationStateTest {

    private final GenerationState state = new GenerationState();

    @Test
    void reportsNothingRunningBeforeTheFirstJob() {
        JsonNode p = state.progress(false, true, 10);

        assertThat(p.toString())
                .isEqualTo(
                        "{\"progress\":0.0,\"eta_relative\":0.0,\"state\":{\"skipped\":false,"
                                + "\"interrupted\":false,\"stopping_generation\":false,\"job\":\"\",\"job_count\":0,\"job_timestamp\":\"0\","
                                + "\"job_no\":0,\"sampling_step\":0,\"sampling_steps\":0},\"current_image\":null,\"textinfo\":null}");
    }

    @Test
    void computesProgressWithForgesFormula() {
        state.begin("scripts_txt2img");
        assertThat(state.progress(true, true, 10).get("progress").doubleValue())
                .as("job_count -1 while loading")
                .isEqualTo(0.01);

        state.setJobCount(2);
        state.startSampling(20, spec());
        state.stepDone(9);
        state.nextJob(true, 10);
        state.startSampling(20, spec());
        state.stepDone(4);

        JsonNode p = state.progress(true, true, 10);
        assertThat(p.get("progress").doubleValue()).isCloseTo(0.01 + 1.0 / 2 + 0.5 * 4 / 20, within(1e-9));
        assertThat(p.get("eta_relative").doubleValue()).isPositive();
        assertThat(p.get("state").get("job_no").asInt()).isEqualTo(1);
        assertThat(p.get("state").get("sampling_step").asInt()).isEqualTo(4);
        assertThat(p.get("state").get("job").stringValue()).isEqualTo("scripts_txt2img");
    }

    @Test
    void keepsTheLastJobsCountersAndFlagsWhenIdle() {
        state.begin("scripts_txt2img");
        String timestamp = state.jobTimestamp();
        state.setJobCount(1);
        state.startSampling(25, spec());
        state.stepDone(11);
        state.interrupt();
        state.nextJob(true, 10);
        state.end();

        JsonNode s = state.progress(false, true, 10).get("state");

        assertThat(state.progress(false, true, 10).get("progress").doubleValue())
                .isZero();
        assertThat(s.get("job").stringValue()).isEmpty();
        assertThat(s.get("job_count").asInt()).isZero();
        assertThat(s.get("interrupted").booleanValue()).isTrue();
        assertThat(s.get("job_no").asInt()).isEqualTo(1);
        assertThat(s.get("sampling_steps").asInt()).isEqualTo(25);
        assertThat(s.get("job_timestamp").stringValue()).isEqualTo(timestamp).matches("\\d{14}");
    }

    @Test
    void losesAnInterruptSentBeforeTheNextJobBegins() {
        state.interrupt();
        state.skip();
        assertThat(state.interrupted()).isTrue();

        state.begin("scripts_txt2img");

        assertThat(state.interrupted()).isFalse();
        assertThat(state.skipped()).isFalse();
    }

    @Test
    void rendersALivePreviewOnceEnoughStepsPassedUnlessTheClientSkipsIt() {
        state.begin("scripts_txt2img");
        state.setJobCount(1);
        state.startSampling(30, spec());
        state.stepDone(3);
        assertThat(state.progress(false, true, 5).get("current_image").isNull()).isTrue();

        state.stepDone(5);
        JsonNode withImage = state.progress(false, true, 5);
        JsonNode skipped = state.progress(true, true, 5);
        JsonNode previewsOff = new GenerationState().progress(false, false, 5);

        assertThat(withImage.get("current_image").stringValue()).startsWith("iVBORw0KGgo");
        assertThat(skipped.get("current_image").isNull()).isTrue();
        assertThat(previewsOff.get("current_image").isNull()).isTrue();
    }

    private static ImageRenderer.Spec spec() {
        return new ImageRenderer.Spec("p", 1, 512, 512, 1);
    }
}
