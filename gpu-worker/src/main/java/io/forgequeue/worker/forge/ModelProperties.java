package io.forgequeue.worker.forge;

import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * What the worker keeps and checks about its Forge's checkpoints ({@code worker.models.*}).
 *
 * @param verify          compare the model Forge reports it used with the requested checkpoint after every txt2img;
 *                        on a mismatch ask Forge to load the requested one and try once more, then fail the job
 *                        (MODEL_MISMATCH)
 * @param catalogRefresh  how often Forge's checkpoint, sampler and scheduler lists are read again (a model added on
 *                        the server and Forge's own refresh-checkpoints become visible to the scheduler within this);
 *                        a change is announced at once
 * @param taggedCheckpoints most distinct checkpoint names used as the {@code checkpoint} tag of the switch metrics;
 *                        further ones are counted as {@code _other}
 */
@Validated
@ConfigurationProperties("worker.models")
public record ModelProperties(
        @DefaultValue("true") boolean verify,
        @DefaultValue("60s") @NotNull Duration catalogRefresh,
        @DefaultValue("20") @Min(1) int taggedCheckpoints) {

    /** The defaults, for code that builds a client without Spring (tests). */
    public static ModelProperties defaults() {
        return new ModelProperties(true, Duration.ofSeconds(60), 20);
    }
}
