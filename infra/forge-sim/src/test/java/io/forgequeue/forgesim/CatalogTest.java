package io.forgequeue.forgesim;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class CatalogTest {

    private final Catalog catalog = new Catalog(List.of("sdxl/juggernautXL.safetensors", "flux1-dev.safetensors"));

    @Test
    void describesACheckpointLikeForgesCheckpointInfo() {
        Catalog.Checkpoint c = catalog.checkpoints().get(0);

        assertThat(c.title()).matches("sdxl/juggernautXL\\.safetensors \\[[0-9a-f]{10}]");
        assertThat(c.modelName()).isEqualTo("sdxl_juggernautXL");
        assertThat(c.nameForExtra()).isEqualTo("juggernautXL");
        assertThat(c.sha256()).hasSize(64).startsWith(c.shorthash());
        assertThat(c.hash()).hasSize(8);
        assertThat(c.filename()).isEqualTo(Catalog.MODELS_DIR + "sdxl/juggernautXL.safetensors");
    }

    @Test
    void findsACheckpointByAnyOfForgesAliasesButNotByAPrefix() {
        Catalog.Checkpoint c = catalog.checkpoints().get(0);

        for (String alias : List.of(
                c.title(),
                c.name(),
                c.modelName(),
                c.nameForExtra(),
                c.shorthash(),
                c.sha256(),
                c.hash(),
                c.name() + " [" + c.hash() + "]")) {
            assertThat(catalog.checkpoint(alias)).as(alias).isSameAs(c);
        }
        assertThat(catalog.checkpoint("juggernaut")).isNull();
        assertThat(catalog.checkpoint(null)).isNull();
    }

    @Test
    void replacesAnUnknownSamplerWithTheFirstOneAndAnUnknownSchedulerWithAutomatic() {
        assertThat(Catalog.samplerAndScheduler("[Forge] Flux Realistic", null, true))
                .isEqualTo(new Catalog.SamplerChoice("DPM++ 2M", "Automatic"));
        assertThat(Catalog.samplerAndScheduler("Euler a", "no-such-schedule", true))
                .isEqualTo(new Catalog.SamplerChoice("Euler a", "Automatic"));
        assertThat(Catalog.SAMPLERS.get(0).name()).isEqualTo("DPM++ 2M");
    }

    @Test
    void splitsALegacySamplerNameIntoSamplerAndSchedule() {
        assertThat(Catalog.samplerAndScheduler("Euler Karras", null, true))
                .isEqualTo(new Catalog.SamplerChoice("Euler", "Karras"));
        assertThat(Catalog.samplerAndScheduler("DPM++ 2M Karras", null, false))
                .isEqualTo(new Catalog.SamplerChoice("DPM++ 2M", "Karras"));
        assertThat(Catalog.samplerAndScheduler("DPM++ 2M Karras", null, true))
                .as("Karras is DPM++ 2M's own default, so it reads as Automatic")
                .isEqualTo(new Catalog.SamplerChoice("DPM++ 2M", "Automatic"));
        assertThat(Catalog.samplerAndScheduler("Euler", "sgm_uniform", true))
                .isEqualTo(new Catalog.SamplerChoice("Euler", "SGM Uniform"));
    }

    @Test
    void showsTheSamplersDefaultScheduleInsteadOfAutomaticInInfotexts() {
        assertThat(Catalog.effectiveScheduleLabel("DPM++ 2M", "Automatic")).isEqualTo("Karras");
        assertThat(Catalog.effectiveScheduleLabel("Euler", "Automatic")).isEqualTo("Automatic");
        assertThat(Catalog.effectiveScheduleLabel("Euler", "Beta")).isEqualTo("Beta");
    }

    @Test
    void listsForgesSchedulersWithAutomaticFirst() {
        assertThat(Catalog.SCHEDULERS)
                .extracting(Catalog.Scheduler::name)
                .startsWith("automatic", "uniform", "karras")
                .contains("simple", "beta", "sgm_uniform");
        assertThat(Catalog.SAMPLERS)
                .extracting(Catalog.Sampler::name)
                .contains("Euler a", "Euler", "DDIM", "DDPM", "UniPC");
    }
}
