package io.forgequeue.model;

import static io.forgequeue.model.fixtures.JobSpecBuilder.aSpec;
import static org.assertj.core.api.Assertions.assertThat;

import io.forgequeue.model.fixtures.JobSpecBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class JobSpecTest {

    @Test
    void aSpecWithDefaultsIsValid() {
        JobSpec spec = JobSpec.of("a red fox");

        assertThat(spec.violations()).isEmpty();
        assertThat(spec.width()).isEqualTo(512);
        assertThat(spec.seed()).isEqualTo(-1L);
        assertThat(spec.negativePrompt()).isEmpty();
    }

    @Test
    void acceptsEveryLimitAtItsBoundary() {
        assertThat(aSpec().size(64, 64)
                        .steps(1)
                        .cfgScale(1.0)
                        .seed(0)
                        .batchSize(1)
                        .build()
                        .violations())
                .isEmpty();
        assertThat(aSpec().size(2048, 2048)
                        .steps(150)
                        .cfgScale(30.0)
                        .seed(4_294_967_294L)
                        .batchSize(1)
                        .build()
                        .violations())
                .isEmpty();
        assertThat(aSpec().size(1024, 1024).batchSize(4).build().violations()).isEmpty();
        assertThat(aSpec().size(512, 512).batchSize(8).build().violations()).isEmpty();
        assertThat(aSpec().prompt("x".repeat(2000))
                        .negativePrompt("y".repeat(2000))
                        .build()
                        .violations())
                .isEmpty();
    }

    @ParameterizedTest(name = "{0}={1} is refused")
    @CsvSource({
        "width, 63",
        "width, 2056",
        "width, 100",
        "width, -8",
        "width, 0",
        "height, 0",
        "height, 4096",
        "height, 65",
        "steps, 0",
        "steps, 151",
        "steps, -1",
        "batchSize, 0",
        "batchSize, 9",
        "seed, -2",
        "seed, 4294967295"
    })
    void refusesANumberOutsideItsLimits(String field, long value) {
        JobSpecBuilder b = aSpec();
        switch (field) {
            case "width" -> b.width((int) value);
            case "height" -> b.height((int) value);
            case "steps" -> b.steps((int) value);
            case "batchSize" -> b.batchSize((int) value);
            case "seed" -> b.seed(value);
            default -> throw new IllegalArgumentException(field);
        }

        assertThat(b.build().violations()).extracting(FieldViolation::field).containsExactly(field);
    }

    @ParameterizedTest
    @ValueSource(doubles = {0.99, 30.01, Double.NaN, Double.POSITIVE_INFINITY, -7})
    void refusesACfgScaleOutsideItsLimits(double cfg) {
        assertThat(aSpec().cfgScale(cfg).build().violations())
                .extracting(FieldViolation::field)
                .containsExactly("cfgScale");
    }

    @Test
    void refusesTooManyPixelsInOneJob() {
        assertThat(aSpec().size(2048, 2048).batchSize(2).build().violations())
                .extracting(FieldViolation::field)
                .containsExactly("batchSize");
    }

    @Test
    void refusesAMissingBlankOrOverlongPrompt() {
        assertThat(aSpec().prompt(null).build().violations())
                .extracting(FieldViolation::field)
                .containsExactly("prompt");
        assertThat(aSpec().prompt("  \n ").build().violations())
                .extracting(FieldViolation::message)
                .containsExactly("must not be empty");
        assertThat(aSpec().prompt("x".repeat(2001)).build().violations())
                .extracting(FieldViolation::message)
                .containsExactly("must be at most 2000 characters");
        assertThat(aSpec().negativePrompt("x".repeat(2001)).build().violations())
                .extracting(FieldViolation::field)
                .containsExactly("negativePrompt");
    }

    @Test
    void refusesControlCharactersAndBrokenSurrogatesButKeepsRealUnicode() {
        assertThat(aSpec().prompt("cat\u0000dog").build().violations())
                .extracting(FieldViolation::field)
                .containsExactly("prompt");
        assertThat(aSpec().prompt("cat \uD83D dog").build().violations()).hasSize(1);
        assertThat(aSpec().prompt("cat \uDE00 dog").build().violations()).hasSize(1);
        assertThat(aSpec().prompt("ein Fuchs im Schnee, 雪の中の狐 🦊\nline two\ttab")
                        .build()
                        .violations())
                .isEmpty();
    }

    @Test
    void refusesOddSamplerSchedulerAndCheckpointNames() {
        assertThat(aSpec().sampler("DPM++ 2M; drop table").build().violations())
                .extracting(FieldViolation::field)
                .containsExactly("sampler");
        assertThat(aSpec().scheduler("x".repeat(65)).build().violations())
                .extracting(FieldViolation::field)
                .containsExactly("scheduler");
        assertThat(aSpec().checkpoint(" ").build().violations())
                .extracting(FieldViolation::field)
                .containsExactly("checkpoint");
        assertThat(aSpec().checkpoint("sdxl/juggernautXL_v9.safetensors [d91d35736d]")
                        .sampler("Euler a")
                        .scheduler("automatic")
                        .build()
                        .violations())
                .isEmpty();
    }

    @Test
    void reportsEveryBrokenFieldAtOnce() {
        JobSpec spec = new JobSpec("", null, 1, 3000, 0, 0, "", null, -5, null, 0);

        assertThat(spec.violations())
                .extracting(FieldViolation::field)
                .containsExactly("prompt", "width", "height", "steps", "cfgScale", "sampler", "seed", "batchSize");
        assertThat(spec.isValid()).isFalse();
    }
}
