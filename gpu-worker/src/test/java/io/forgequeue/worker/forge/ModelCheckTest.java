package io.forgequeue.worker.forge;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Which checkpoint ran and whether it is the requested one, by every name Forge gives a checkpoint (issue 17). */
class ModelCheckTest {

    private static final String SHA_A = "1111111111" + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    private static final String SHA_XL = "2222222222" + "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    private static final String SHA_15 = "3333333333" + "cccccccccccccccccccccccccccccccccccccccccccccccccccccc";

    private static final Checkpoint A = new Checkpoint(
            "a.safetensors [1111111111]", "a", "1111111111", SHA_A, "/models/Stable-diffusion/a.safetensors");
    /** Two files called juggernaut in different folders: Forge reports both as "juggernaut". */
    private static final Checkpoint XL = new Checkpoint(
            "sdxl/juggernaut.safetensors [2222222222]",
            "sdxl_juggernaut",
            "2222222222",
            SHA_XL,
            "/models/Stable-diffusion/sdxl/juggernaut.safetensors");

    private static final Checkpoint SD15 = new Checkpoint(
            "sd15/juggernaut.safetensors [3333333333]",
            "sd15_juggernaut",
            "3333333333",
            SHA_15,
            "/models/Stable-diffusion/sd15/juggernaut.safetensors");
    private static final List<Checkpoint> LISTED = List.of(A, XL, SD15);

    private static ForgeInfo ran(String sdModelName, String sdModelHash) {
        return new ForgeInfo(
                null, List.of(), 0, sdModelName, sdModelHash, null, null, null, null, null, null, null, null);
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                "sdxl/juggernaut.safetensors [2222222222]",
                "sdxl/juggernaut.safetensors",
                "sdxl_juggernaut",
                "2222222222",
                SHA_XL,
                "sdxl/juggernaut"
            })
    void matchesTheRequestedCheckpointByAnyOfItsNames(String requested) {
        ModelCheck.Verdict verdict = ModelCheck.verify(requested, ran("juggernaut", "2222222222"), LISTED);

        assertThat(verdict.kind()).isEqualTo(ModelCheck.Kind.MATCH);
        assertThat(verdict.used()).isEqualTo("sdxl_juggernaut");
    }

    @Test
    void reportsAMismatchNamingBothModelsTheWayTheyAreOffered() {
        ModelCheck.Verdict verdict = ModelCheck.verify("a", ran("juggernaut", "2222222222"), LISTED);

        assertThat(verdict).isEqualTo(new ModelCheck.Verdict(ModelCheck.Kind.MISMATCH, "a", "sdxl_juggernaut"));
    }

    @Test
    void tellsApartTwoFilesWithTheSameNameByTheHash() {
        ModelCheck.Verdict verdict = ModelCheck.verify("sd15_juggernaut", ran("juggernaut", "2222222222"), LISTED);

        assertThat(verdict.kind()).isEqualTo(ModelCheck.Kind.MISMATCH);
        assertThat(verdict.used()).isEqualTo("sdxl_juggernaut");
        assertThat(ModelCheck.ranModel(ran("juggernaut", "3333333333"), LISTED)).isEqualTo(SD15);
        assertThat(ModelCheck.ranModel(ran("juggernaut", null), LISTED))
                .as("ambiguous without a hash")
                .isNull();
    }

    @Test
    void comparesNamesWhileTheListingHasNoHashYet() {
        // Forge lists a checkpoint without hash until it has hashed the file (forge-api.md §7)
        Checkpoint unhashed = new Checkpoint(
                "sdxl/juggernaut.safetensors",
                "sdxl_juggernaut",
                null,
                null,
                "/models/Stable-diffusion/sdxl/juggernaut.safetensors");
        Checkpoint a = new Checkpoint("a.safetensors", "a", null, null, "/models/Stable-diffusion/a.safetensors");

        assertThat(ModelCheck.verify("sdxl_juggernaut", ran("juggernaut", "2222222222"), List.of(unhashed, a))
                        .kind())
                .isEqualTo(ModelCheck.Kind.MATCH);
        assertThat(ModelCheck.verify("a", ran("juggernaut", "2222222222"), List.of(unhashed, a))
                        .kind())
                .isEqualTo(ModelCheck.Kind.MISMATCH);
    }

    @Test
    void letsTheNameDecideWhenForgeReportsALegacyEightDigitHash() {
        assertThat(ModelCheck.verify("a", ran("a", "deadbeef"), LISTED).kind()).isEqualTo(ModelCheck.Kind.MATCH);
        assertThat(ModelCheck.verify("a", ran("juggernaut", "deadbeef"), LISTED).kind())
                .isEqualTo(ModelCheck.Kind.MISMATCH);
    }

    @Test
    void cannotTellWhenForgeReportsNoModel() {
        ModelCheck.Verdict verdict = ModelCheck.verify("a", ran(null, null), LISTED);

        assertThat(verdict.kind()).isEqualTo(ModelCheck.Kind.UNKNOWN);
        assertThat(ModelCheck.ranModel(ran(null, null), LISTED)).isNull();
    }

    @Test
    void withoutTheListsComparesTheFileNameForgeReportsWithTheRequestedName() {
        List<Checkpoint> none = List.of();

        assertThat(ModelCheck.verify("sdxl/juggernaut.safetensors", ran("juggernaut", null), none)
                        .kind())
                .isEqualTo(ModelCheck.Kind.MATCH);
        assertThat(ModelCheck.verify("sdxl_juggernaut", ran("juggernaut", "2222222222"), none)
                        .kind())
                .isEqualTo(ModelCheck.Kind.MATCH);
        assertThat(ModelCheck.verify("a [1111111111]", ran("a", null), none).kind())
                .isEqualTo(ModelCheck.Kind.MATCH);
        assertThat(ModelCheck.verify("a", ran("juggernaut", null), none))
                .isEqualTo(new ModelCheck.Verdict(ModelCheck.Kind.MISMATCH, "a", "juggernaut"));
        assertThat(ModelCheck.verify("a", ran(null, "2222222222"), none).kind()).isEqualTo(ModelCheck.Kind.UNKNOWN);
    }

    @Test
    void resolvesARequestedNameToTheListedCheckpoint() {
        assertThat(ModelCheck.resolve("sd15/juggernaut.safetensors", LISTED)).isEqualTo(SD15);
        assertThat(ModelCheck.resolve("juggernaut", LISTED))
                .as("the first file of that name, as Forge's aliases")
                .isIn(XL, SD15);
        assertThat(ModelCheck.resolve("nope", LISTED)).isNull();
        assertThat(A.offeredName()).isEqualTo("a");
        assertThat(XL.nameForExtra()).isEqualTo("juggernaut");
        assertThat(XL.name()).isEqualTo("sdxl/juggernaut.safetensors");
    }
}
