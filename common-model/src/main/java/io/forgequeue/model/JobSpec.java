package io.forgequeue.model;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.util.ArrayList;
import java.util.List;

/**
 * What to generate: the text-to-image settings of one job, with the limits stated once in {@link Limits}.
 *
 * <p>Construction never throws, so that a worker can read an impossible spec and report it;
 * {@link #violations()} lists every broken limit. The gateway refuses a spec with violations before
 * anything is stored or queued; the worker fails such a job with {@link ErrorCode#INVALID_SPEC}.
 *
 * @param prompt         what to draw; required, 1 to {@link Limits#PROMPT_MAX_CHARS} characters
 * @param negativePrompt what to avoid; never null (empty when absent), at most {@link Limits#PROMPT_MAX_CHARS}
 * @param width          image width in pixels, {@link Limits#SIZE_MIN}..{@link Limits#SIZE_MAX}, a multiple of 8
 * @param height         image height in pixels, same limits as width
 * @param steps          sampling steps, {@link Limits#STEPS_MIN}..{@link Limits#STEPS_MAX}
 * @param cfgScale       classifier-free guidance scale, {@link Limits#CFG_MIN}..{@link Limits#CFG_MAX}
 * @param sampler        sampler name as Forge lists it in {@code /sdapi/v1/samplers}; null for the server default
 * @param scheduler      scheduler name or label from {@code /sdapi/v1/schedulers}; null for automatic
 * @param seed           -1 for random, else 0..{@link Limits#SEED_MAX}; image i of the job uses seed + i
 * @param checkpoint     checkpoint (model) name for this job; null for the server's current one
 * @param batchSize      images generated together, {@link Limits#BATCH_MIN}..{@link Limits#BATCH_MAX}
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record JobSpec(
        String prompt,
        String negativePrompt,
        int width,
        int height,
        int steps,
        double cfgScale,
        String sampler,
        String scheduler,
        long seed,
        String checkpoint,
        int batchSize) {

    /** The limits every spec must respect: the one place they are written. */
    public static final class Limits {
        /** Longest prompt or negative prompt, in UTF-16 characters. */
        public static final int PROMPT_MAX_CHARS = 2000;
        /** Smallest width or height. */
        public static final int SIZE_MIN = 64;
        /** Largest width or height. */
        public static final int SIZE_MAX = 2048;
        /** Width and height must be multiples of this. */
        public static final int SIZE_MULTIPLE = 8;
        /** Most pixels one job may ask for (width x height x batch size): four 1024 x 1024 images. */
        public static final long PIXELS_MAX = 4L * 1024 * 1024;
        /** Fewest sampling steps. */
        public static final int STEPS_MIN = 1;
        /** Most sampling steps. */
        public static final int STEPS_MAX = 150;
        /** Smallest CFG scale. */
        public static final double CFG_MIN = 1.0;
        /** Largest CFG scale. */
        public static final double CFG_MAX = 30.0;
        /** Largest explicit seed (Forge draws random seeds below 4294967295). */
        public static final long SEED_MAX = 4_294_967_294L;
        /** The seed value that asks for a random seed. */
        public static final long RANDOM_SEED = -1L;
        /** Fewest images per job. */
        public static final int BATCH_MIN = 1;
        /** Most images per job. */
        public static final int BATCH_MAX = 8;
        /** Longest sampler or scheduler name. */
        public static final int NAME_MAX_CHARS = 64;
        /** Longest checkpoint name. */
        public static final int CHECKPOINT_MAX_CHARS = 256;

        private Limits() {}
    }

    /** Default width and height when a client gives none. */
    public static final int DEFAULT_SIZE = 512;
    /** Default sampling steps when a client gives none. */
    public static final int DEFAULT_STEPS = 20;
    /** Default CFG scale when a client gives none. */
    public static final double DEFAULT_CFG_SCALE = 7.0;

    public JobSpec {
        negativePrompt = negativePrompt == null ? "" : negativePrompt;
    }

    /** A spec with every optional setting at its default. */
    public static JobSpec of(String prompt) {
        return new JobSpec(
                prompt,
                "",
                DEFAULT_SIZE,
                DEFAULT_SIZE,
                DEFAULT_STEPS,
                DEFAULT_CFG_SCALE,
                null,
                null,
                Limits.RANDOM_SEED,
                null,
                1);
    }

    /** Number of images the job produces. */
    public int imageCount() {
        return batchSize;
    }

    /** Every broken limit, in field order; empty when the spec is valid. */
    public List<FieldViolation> violations() {
        List<FieldViolation> out = new ArrayList<>();
        if (prompt == null || prompt.isBlank()) {
            out.add(new FieldViolation("prompt", "must not be empty"));
        } else {
            checkText(out, "prompt", prompt, Limits.PROMPT_MAX_CHARS);
        }
        checkText(out, "negativePrompt", negativePrompt, Limits.PROMPT_MAX_CHARS);
        checkSize(out, "width", width);
        checkSize(out, "height", height);
        if (inSize(width) && inSize(height) && (long) width * height * Math.max(batchSize, 1) > Limits.PIXELS_MAX) {
            out.add(new FieldViolation(
                    "batchSize",
                    "width x height x batchSize must be at most " + Limits.PIXELS_MAX
                            + " pixels (four 1024x1024 images)"));
        }
        if (steps < Limits.STEPS_MIN || steps > Limits.STEPS_MAX) {
            out.add(new FieldViolation("steps", "must be between " + Limits.STEPS_MIN + " and " + Limits.STEPS_MAX));
        }
        if (!(cfgScale >= Limits.CFG_MIN && cfgScale <= Limits.CFG_MAX)) {
            out.add(new FieldViolation("cfgScale", "must be between " + Limits.CFG_MIN + " and " + Limits.CFG_MAX));
        }
        checkName(out, "sampler", sampler);
        checkName(out, "scheduler", scheduler);
        if (seed != Limits.RANDOM_SEED && (seed < 0 || seed > Limits.SEED_MAX)) {
            out.add(new FieldViolation("seed", "must be -1 (random) or between 0 and " + Limits.SEED_MAX));
        }
        if (checkpoint != null) {
            if (checkpoint.isBlank()) {
                out.add(new FieldViolation("checkpoint", "must not be blank (leave it out for the server's model)"));
            } else {
                checkText(out, "checkpoint", checkpoint, Limits.CHECKPOINT_MAX_CHARS);
            }
        }
        if (batchSize < Limits.BATCH_MIN || batchSize > Limits.BATCH_MAX) {
            out.add(new FieldViolation(
                    "batchSize", "must be between " + Limits.BATCH_MIN + " and " + Limits.BATCH_MAX));
        }
        return out;
    }

    /** Whether {@link #violations()} is empty. Not a JSON property. */
    @JsonIgnore
    public boolean isValid() {
        return violations().isEmpty();
    }

    private static boolean inSize(int v) {
        return v >= Limits.SIZE_MIN && v <= Limits.SIZE_MAX;
    }

    private static void checkSize(List<FieldViolation> out, String field, int value) {
        if (!inSize(value)) {
            out.add(new FieldViolation(field, "must be between " + Limits.SIZE_MIN + " and " + Limits.SIZE_MAX));
        } else if (value % Limits.SIZE_MULTIPLE != 0) {
            out.add(new FieldViolation(field, "must be a multiple of " + Limits.SIZE_MULTIPLE));
        }
    }

    private static void checkText(List<FieldViolation> out, String field, String value, int max) {
        if (value.length() > max) {
            out.add(new FieldViolation(field, "must be at most " + max + " characters"));
        } else if (hasForbiddenCharacter(value)) {
            out.add(new FieldViolation(field, "must not contain control characters or unpaired surrogates"));
        }
    }

    private static void checkName(List<FieldViolation> out, String field, String value) {
        if (value == null) {
            return;
        }
        if (value.isBlank() || value.length() > Limits.NAME_MAX_CHARS || !value.matches("[\\p{Alnum} +._()\\[\\]-]+")) {
            out.add(new FieldViolation(
                    field, "must be 1-" + Limits.NAME_MAX_CHARS + " letters, digits, spaces or + . _ ( ) [ ] -"));
        }
    }

    /** Control characters other than tab and newline, and unpaired surrogates, are refused. */
    private static boolean hasForbiddenCharacter(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c)) {
                if (i + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(i + 1))) {
                    return true;
                }
                i++;
            } else if (Character.isLowSurrogate(c)) {
                return true;
            } else if (Character.isISOControl(c) && c != '\n' && c != '\t' && c != '\r') {
                return true;
            }
        }
        return false;
    }
}
