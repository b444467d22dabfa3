package io.forgequeue.worker.forge;

import io.forgequeue.model.GeneratedImage;
import java.util.List;
import java.util.Map;

/**
 * What a txt2img call produced.
 *
 * @param images         the generated images, paired with their seeds (may be fewer than asked, or none, after an
 *                       interrupt)
 * @param metadata       what Forge reported about the run (seed, model, sampler, ...) plus {@code forgeMillis}
 * @param forgeMillis    wall time of the successful HTTP call
 * @param imagesReturned how many images Forge sent in total (grid and extra images included)
 * @param sentNanos      {@link System#nanoTime()} when the successful request was sent
 * @param answeredNanos  {@link System#nanoTime()} when its answer had been read
 * @param firstTry       whether the successful request was the first one of this job (no retry before it)
 * @param interruptedElsewhere whether someone other than this worker interrupted (or skipped) the generation on
 *                       Forge, e.g. a person pressing Interrupt in Forge's web UI: the images are unfinished and must
 *                       not be stored as the job's result (the job runs again)
 */
public record Txt2ImgResult(
        List<GeneratedImage> images,
        Map<String, Object> metadata,
        long forgeMillis,
        int imagesReturned,
        long sentNanos,
        long answeredNanos,
        boolean firstTry,
        boolean interruptedElsewhere) {

    public Txt2ImgResult {
        images = List.copyOf(images);
        metadata = Map.copyOf(metadata);
    }
}
