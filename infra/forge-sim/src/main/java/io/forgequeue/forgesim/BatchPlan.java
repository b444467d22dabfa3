package io.forgequeue.forgesim;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The shape of one job as Forge's process_images reads it from the request: batches, steps, sizes and the hires
 * pass (size, steps, checkpoint), with the request errors Forge (or the sim's limits) answer before sampling, and
 * the hires entries of the infotext's extra parameters.
 *
 * @param extra the infotext's extra generation parameters so far, in Forge's order (the caller adds more)
 */
record BatchPlan(
        int batchSize,
        int nIter,
        int steps,
        int width,
        int height,
        boolean hires,
        int hrWidth,
        int hrHeight,
        int hrSteps,
        Catalog.Checkpoint hrCheckpoint,
        Map<String, Object> extra) {

    private static final List<String> UPSCALERS = List.of(
            "Latent",
            "Latent (antialiased)",
            "Latent (bicubic)",
            "Latent (bicubic antialiased)",
            "Latent (nearest)",
            "Latent (nearest-exact)",
            "None",
            "Lanczos",
            "Nearest",
            "DAT x2",
            "DAT x3",
            "DAT x4",
            "ESRGAN_4x",
            "LDSR",
            "R-ESRGAN 4x+",
            "R-ESRGAN 4x+ Anime6B",
            "ScuNET",
            "ScuNET PSNR",
            "SwinIR_4x");

    /** Reads the plan; throws the {@link ApiError} Forge answers for a request it cannot run. */
    static BatchPlan of(Txt2ImgRequest p, ModelSlot models) {
        int batchSize = (int) Math.min(Integer.MAX_VALUE, Math.max(0, p.integer("batch_size")));
        int nIter = (int) Math.min(Integer.MAX_VALUE, Math.max(0, p.integer("n_iter")));
        int steps = (int) Math.min(100_000, p.integer("steps"));
        int width = (int) Math.min(Integer.MAX_VALUE, p.integer("width"));
        int height = (int) Math.min(Integer.MAX_VALUE, p.integer("height"));
        if (batchSize == 0 || nIter == 0) {
            throw ApiError.python("IndexError", "list index out of range");
        }
        if (steps < 1) {
            throw ApiError.python("RuntimeError", "forge-sim: steps must be at least 1");
        }
        if (width < 8 || height < 8 || width > 8192 || height > 8192) {
            throw ApiError.python("RuntimeError", "forge-sim: width and height must be within 8..8192");
        }
        if ((long) batchSize * nIter > 10_000) {
            throw ApiError.python("RuntimeError", "forge-sim: at most 10000 images per call");
        }
        Map<String, Object> extra = new LinkedHashMap<>();
        if (!p.flag("enable_hr")) {
            return new BatchPlan(batchSize, nIter, steps, width, height, false, width, height, 0, null, extra);
        }
        int hrWidth;
        int hrHeight;
        Catalog.Checkpoint hrCheckpoint = null;
        extra.put("Denoising strength", p.number("denoising_strength"));
        String hrName = p.string("hr_checkpoint_name");
        if (hrName != null && !hrName.isEmpty() && !hrName.equals("Use same checkpoint")) {
            hrCheckpoint = models.closest(hrName);
            if (hrCheckpoint == null) {
                throw ApiError.python("Exception", "Could not find checkpoint with name " + hrName);
            }
            extra.put("Hires checkpoint", hrCheckpoint.title());
        }
        String upscaler = p.string("hr_upscaler");
        if (upscaler != null && !UPSCALERS.contains(upscaler)) {
            throw ApiError.python("Exception", "could not find upscaler named " + upscaler);
        }
        long rx = p.integer("hr_resize_x");
        long ry = p.integer("hr_resize_y");
        if (rx == 0 && ry == 0) {
            extra.put("Hires upscale", p.number("hr_scale"));
            hrWidth = (int) (width * p.number("hr_scale"));
            hrHeight = (int) (height * p.number("hr_scale"));
        } else {
            extra.put("Hires resize", rx + "x" + ry);
            if (ry == 0) {
                hrWidth = (int) rx;
                hrHeight = (int) (rx * height / width);
            } else if (rx == 0) {
                hrWidth = (int) (ry * width / height);
                hrHeight = (int) ry;
            } else {
                hrWidth = (int) rx;
                hrHeight = (int) ry;
            }
        }
        int hrSteps = p.integer("hr_second_pass_steps") > 0 ? (int) p.integer("hr_second_pass_steps") : steps;
        if (p.integer("hr_second_pass_steps") > 0) {
            extra.put("Hires steps", p.integer("hr_second_pass_steps"));
        }
        if (upscaler != null) {
            extra.put("Hires upscaler", upscaler);
        }
        if (hrWidth < 8 || hrHeight < 8 || hrWidth > 8192 || hrHeight > 8192) {
            throw ApiError.python("RuntimeError", "forge-sim: hires size must be within 8..8192");
        }
        return new BatchPlan(
                batchSize, nIter, steps, width, height, true, hrWidth, hrHeight, hrSteps, hrCheckpoint, extra);
    }

    /** Pixels of one batch at its largest pass. */
    long pixelsPerBatch() {
        return Math.max(width * (long) height, hrWidth * (long) hrHeight) * batchSize;
    }

    int images() {
        return batchSize * nIter;
    }
}
