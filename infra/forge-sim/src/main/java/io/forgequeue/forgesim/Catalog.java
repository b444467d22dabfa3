package io.forgequeue.forgesim;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What the sim "has installed": checkpoints, samplers and schedulers with Forge's names, and the lookup rules Forge
 * applies to them ({@code checkpoint_aliases}, {@code get_sampler_and_scheduler}). Immutable, thread-safe.
 */
final class Catalog {

    static final String MODELS_DIR = "/opt/forge/models/Stable-diffusion/";

    /**
     * One checkpoint file, as Forge's {@code CheckpointInfo} describes it.
     *
     * @param name        path relative to the models folder, e.g. "sdxl/juggernautXL.safetensors"
     * @param modelName   name without extension, slashes replaced by underscores
     * @param nameForExtra file name without folder and extension (what infotexts call "Model")
     * @param hash        the legacy 8-hex hash
     * @param sha256      full sha256 (here: of the name, since there is no file)
     * @param shorthash   first 10 hex digits of sha256
     */
    record Checkpoint(
            String name,
            String filename,
            String modelName,
            String nameForExtra,
            String hash,
            String sha256,
            String shorthash) {

        String title() {
            return name + " [" + shorthash + "]";
        }

        /** Every string Forge accepts for this checkpoint ({@code CheckpointInfo.ids}). */
        List<String> aliases() {
            return List.of(
                    hash,
                    modelName,
                    title(),
                    name,
                    nameForExtra,
                    name + " [" + hash + "]",
                    shorthash,
                    sha256,
                    name + " [" + shorthash + "]");
        }

        boolean isFlux() {
            return name.toLowerCase().contains("flux");
        }

        static Checkpoint of(String name) {
            String sha256 = sha256Hex("forge-sim checkpoint " + name);
            String base = name.contains("/") ? name.substring(name.lastIndexOf('/') + 1) : name;
            String withoutExt = stripExtension(base);
            String modelName = stripExtension(name.replace('/', '_').replace('\\', '_'));
            String legacy = sha256Hex("forge-sim legacy hash " + name).substring(0, 8);
            return new Checkpoint(
                    name, MODELS_DIR + name, modelName, withoutExt, legacy, sha256, sha256.substring(0, 10));
        }

        private static String stripExtension(String s) {
            int dot = s.lastIndexOf('.');
            return dot > 0 ? s.substring(0, dot) : s;
        }
    }

    /** A sampler as {@code /sdapi/v1/samplers} lists it; {@code options.scheduler} is its default schedule. */
    record Sampler(String name, List<String> aliases, Map<String, Object> options) {

        String defaultScheduler() {
            return (String) options.get("scheduler");
        }
    }

    /** A scheduler as {@code /sdapi/v1/schedulers} lists it. */
    record Scheduler(String name, String label, List<String> aliases, double defaultRho, boolean needInnerModel) {}

    /** The outcome of {@code get_sampler_and_scheduler}: a sampler name and a scheduler label. */
    record SamplerChoice(String sampler, String scheduler) {}

    static final List<String> DEFAULT_MODELS = List.of(
            "sd_xl_base_1.0.safetensors",
            "sdxl/juggernautXL_v9Rdphoto2Lightning.safetensors",
            "flux1-dev-bnb-nf4-v2.safetensors",
            "v1-5-pruned-emaonly.safetensors");

    static final List<Sampler> SAMPLERS = List.of(
            sampler("DPM++ 2M", List.of("k_dpmpp_2m"), Map.of("scheduler", "karras")),
            sampler(
                    "DPM++ SDE",
                    List.of("k_dpmpp_sde"),
                    ordered("scheduler", "karras", "second_order", true, "brownian_noise", true)),
            sampler(
                    "DPM++ 2M SDE",
                    List.of("k_dpmpp_2m_sde"),
                    ordered("scheduler", "exponential", "brownian_noise", true)),
            sampler(
                    "DPM++ 2M SDE Heun",
                    List.of("k_dpmpp_2m_sde_heun"),
                    ordered("scheduler", "exponential", "brownian_noise", true, "solver_type", "heun")),
            sampler(
                    "DPM++ 2S a",
                    List.of("k_dpmpp_2s_a"),
                    ordered("scheduler", "karras", "uses_ensd", true, "second_order", true)),
            sampler(
                    "DPM++ 3M SDE",
                    List.of("k_dpmpp_3m_sde"),
                    ordered("scheduler", "exponential", "discard_next_to_last_sigma", true, "brownian_noise", true)),
            sampler("Euler a", List.of("k_euler_a", "k_euler_ancestral"), ordered("uses_ensd", true)),
            sampler("Euler", List.of("k_euler"), Map.of()),
            sampler("LMS", List.of("k_lms"), Map.of()),
            sampler("Heun", List.of("k_heun"), ordered("second_order", true)),
            sampler(
                    "DPM2",
                    List.of("k_dpm_2"),
                    ordered("scheduler", "karras", "discard_next_to_last_sigma", true, "second_order", true)),
            sampler(
                    "DPM2 a",
                    List.of("k_dpm_2_a"),
                    ordered(
                            "scheduler",
                            "karras",
                            "discard_next_to_last_sigma",
                            true,
                            "uses_ensd",
                            true,
                            "second_order",
                            true)),
            sampler("DPM fast", List.of("k_dpm_fast"), ordered("uses_ensd", true)),
            sampler("DPM adaptive", List.of("k_dpm_ad"), ordered("uses_ensd", true)),
            sampler("Restart", List.of("restart"), ordered("scheduler", "karras", "second_order", true)),
            sampler("DDIM", List.of("ddim"), Map.of()),
            sampler("DDIM CFG++", List.of("ddim_cfgpp"), Map.of()),
            sampler("PLMS", List.of("plms"), Map.of()),
            sampler("UniPC", List.of("unipc"), Map.of()),
            sampler("LCM", List.of("k_lcm"), Map.of()),
            sampler("DDPM", List.of("ddpm"), Map.of()));

    static final List<Scheduler> SCHEDULERS = List.of(
            new Scheduler("automatic", "Automatic", null, -1, false),
            new Scheduler("uniform", "Uniform", null, -1, true),
            new Scheduler("karras", "Karras", null, 7.0, false),
            new Scheduler("exponential", "Exponential", null, -1, false),
            new Scheduler("polyexponential", "Polyexponential", null, 1.0, false),
            new Scheduler("sgm_uniform", "SGM Uniform", List.of("SGMUniform"), -1, true),
            new Scheduler("kl_optimal", "KL Optimal", null, -1, false),
            new Scheduler("align_your_steps", "Align Your Steps", null, -1, false),
            new Scheduler("simple", "Simple", null, -1, true),
            new Scheduler("normal", "Normal", null, -1, true),
            new Scheduler("ddim", "DDIM", null, -1, true),
            new Scheduler("beta", "Beta", null, -1, true),
            new Scheduler("turbo", "Turbo", null, -1, true));

    /** Forge's VAE / text-encoder modules (GET /sdapi/v1/sd-modules). */
    static final List<String> MODULES =
            List.of("ae.safetensors", "clip_l.safetensors", "t5xxl_fp8_e4m3fn.safetensors", "sdxl_vae.safetensors");

    /** Selectable scripts (script_name), lower-case titles. Running one behaves like a plain txt2img here. */
    static final List<String> SELECTABLE_SCRIPTS =
            List.of("prompt matrix", "prompts from file or textbox", "x/y/z plot");

    /** Always-on scripts (alwayson_scripts keys), lower-case titles; their args are accepted and ignored. */
    static final List<String> ALWAYSON_SCRIPTS = List.of(
            "refiner",
            "seed",
            "sampler",
            "comments",
            "controlnet",
            "never oom integrated",
            "freeu integrated (sd 1.x, sd 2.x, sdxl)",
            "kohya hrfix integrated",
            "latentmodifier integrated",
            "multidiffusion integrated",
            "perturbedattentionguidance integrated",
            "selfattentionguidance integrated",
            "stylealign integrated",
            "dynamic thresholding (cfg-fix) integrated",
            "extra options");

    private static final Map<String, Scheduler> SCHEDULERS_MAP = new LinkedHashMap<>();

    private static final Map<String, Sampler> SAMPLERS_MAP = new LinkedHashMap<>();

    static {
        SCHEDULERS.forEach(s -> SCHEDULERS_MAP.put(s.name(), s));
        SCHEDULERS.forEach(s -> SCHEDULERS_MAP.put(s.label(), s));
        SAMPLERS.forEach(s -> SAMPLERS_MAP.put(s.name(), s));
    }

    private final List<Checkpoint> checkpoints;

    private final Map<String, Checkpoint> aliases = new LinkedHashMap<>();

    Catalog(List<String> modelNames) {
        if (modelNames.isEmpty()) {
            throw new IllegalArgumentException("at least one checkpoint is needed");
        }
        this.checkpoints = modelNames.stream().map(Checkpoint::of).toList();
        // later checkpoints win on clashes, as in Forge's dict of aliases
        for (Checkpoint c : checkpoints) {
            for (String alias : c.aliases()) {
                aliases.put(alias, c);
            }
        }
    }

    List<Checkpoint> checkpoints() {
        return checkpoints;
    }

    /** The checkpoint for an exact alias, or null (Forge's {@code checkpoint_aliases.get}). */
    Checkpoint checkpoint(String alias) {
        return alias == null ? null : aliases.get(alias);
    }

    static Scheduler scheduler(String nameOrLabel) {
        return nameOrLabel == null ? null : SCHEDULERS_MAP.get(nameOrLabel);
    }

    static Sampler sampler(String name) {
        return name == null ? null : SAMPLERS_MAP.get(name);
    }

    /**
     * Forge's {@code get_sampler_and_scheduler}: a legacy "Sampler Schedule" name is split; an unknown sampler
     * becomes the first one ("DPM++ 2M"); an unknown scheduler becomes "Automatic"; with {@code convertAutomatic}
     * a scheduler equal to the sampler's own default is reported as "Automatic".
     */
    static SamplerChoice samplerAndScheduler(String samplerName, String schedulerName, boolean convertAutomatic) {
        Scheduler found = Objects.requireNonNullElse(scheduler(schedulerName), SCHEDULERS.get(0));
        String name =
                (samplerName == null || samplerName.isEmpty()) ? SAMPLERS.get(0).name() : samplerName;
        for (Scheduler s : SCHEDULERS) {
            java.util.ArrayList<String> options = new java.util.ArrayList<>(List.of(s.label(), s.name()));
            if (s.aliases() != null) {
                options.addAll(s.aliases());
            }
            for (String option : options) {
                if (name.endsWith(" " + option)) {
                    found = s;
                    name = name.substring(0, name.length() - option.length() - 1);
                    break;
                }
            }
        }
        Sampler sampler = Objects.requireNonNullElse(sampler(name), SAMPLERS.get(0));
        if (convertAutomatic && found.name().equals(sampler.defaultScheduler())) {
            found = SCHEDULERS.get(0);
        }
        return new SamplerChoice(sampler.name(), found.label());
    }

    /** The schedule label an infotext shows: "Automatic" resolves to the sampler's default, if it has one. */
    static String effectiveScheduleLabel(String samplerName, String schedulerLabel) {
        if ("Automatic".equals(schedulerLabel)) {
            Sampler sampler = sampler(samplerName);
            Scheduler preferred = sampler == null ? null : scheduler(sampler.defaultScheduler());
            if (preferred != null) {
                return preferred.label();
            }
        }
        return schedulerLabel;
    }

    private static Sampler sampler(String name, List<String> aliases, Map<String, Object> options) {
        return new Sampler(name, aliases, options);
    }

    private static Map<String, Object> ordered(Object... keyValues) {
        Map<String, Object> map = new LinkedHashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            map.put((String) keyValues[i], keyValues[i + 1]);
        }
        return java.util.Collections.unmodifiableMap(map);
    }

    static String sha256Hex(String text) {
        try {
            return HexFormat.of()
                    .formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
