package io.forgequeue.forgesim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

import java.util.Map;
import org.junit.jupiter.api.Test;

class SimConfigTest {

    @Test
    void defaultsToForgesApiOnlyPortAndTheAdminPortNextToIt() {
        SimConfig config = SimConfig.defaults();

        assertThat(config.port()).isEqualTo(7861);
        assertThat(config.adminPort()).isEqualTo(7862);
        assertThat(config.host()).isEqualTo("127.0.0.1");
        assertThat(config.stepMs()).isEqualTo(50.0);
        assertThat(config.threads()).isEqualTo(40);
        assertThat(config.previewEvery()).isEqualTo(10);
        assertThat(config.apiAuth()).isNull();
        assertThat(config.models()).isEqualTo(Catalog.DEFAULT_MODELS);
    }

    @Test
    void picksARandomAdminPortWhenTheApiPortIsRandom() {
        assertThat(SimConfig.fromArgs("--port", "0").adminPort()).isZero();
        assertThat(SimConfig.fromArgs("--port", "9000").adminPort()).isEqualTo(9001);
        assertThat(SimConfig.fromArgs("--port", "9000", "--admin-port", "9100").adminPort())
                .isEqualTo(9100);
    }

    @Test
    void readsFlagsInBothSpellingsAndEnvironmentVariablesWithFlagsWinning() {
        Map<String, String> env = Map.of(
                "FORGE_SIM_STEP_MS",
                "7",
                "FORGE_SIM_MODEL_LOAD_MS",
                "1234",
                "FORGE_SIM_MODELS",
                "a.safetensors, b.ckpt",
                "FORGE_SIM_API_AUTH",
                "u:p");

        SimConfig config = SimConfig.parse(new String[] {"--step-ms=0.5", "--preview-every", "3", "--listen"}, env);

        assertThat(config.stepMs()).isEqualTo(0.5);
        assertThat(config.modelLoadMs()).isEqualTo(1234);
        assertThat(config.models()).containsExactly("a.safetensors", "b.ckpt");
        assertThat(config.apiAuth()).isEqualTo("u:p");
        assertThat(config.previewEvery()).isEqualTo(3);
        assertThat(config.host()).isEqualTo("0.0.0.0");
    }

    @Test
    void rejectsUnknownOptionsBadNumbersAndAMalformedApiAuth() {
        assertThatIllegalArgumentException()
                .isThrownBy(() -> SimConfig.fromArgs("--bogus", "1"))
                .withMessageContaining("--bogus");
        assertThatIllegalArgumentException()
                .isThrownBy(() -> SimConfig.fromArgs("--port", "x"))
                .withMessageContaining("--port");
        assertThatIllegalArgumentException()
                .isThrownBy(() -> SimConfig.fromArgs("--step-ms"))
                .withMessageContaining("needs a value");
        assertThatIllegalArgumentException().isThrownBy(() -> SimConfig.fromArgs("--api-auth", "u:p:q"));
        assertThatIllegalArgumentException().isThrownBy(() -> SimConfig.fromArgs("--failure-rate", "1.5"));
        assertThatIllegalArgumentException()
                .isThrownBy(() -> SimConfig.fromArgs("--models", "a,b", "--loaded", "c"))
                .withMessageContaining("--loaded 'c'");
    }

    @Test
    void speaksHttpsOnlyWithBothACertificateAndItsKey() {
        assertThat(SimConfig.defaults().tls()).isFalse();
        assertThat(SimConfig.fromArgs("--tls-cert", "c.pem", "--tls-key", "k.pem")
                        .tls())
                .isTrue();

        assertThatIllegalArgumentException()
                .isThrownBy(() -> SimConfig.fromArgs("--tls-cert", "c.pem"))
                .withMessageContaining("--tls-cert and --tls-key go together");
        assertThatIllegalArgumentException()
                .isThrownBy(() -> SimConfig.fromArgs("--tls-key", "k.pem"))
                .withMessageContaining("--tls-cert and --tls-key go together");
    }

    @Test
    void documentsEveryOptionWithItsEnvironmentVariable() {
        assertThat(SimConfig.usage())
                .contains("--step-ms", "FORGE_SIM_STEP_MS", "--api-auth", "--hang-next", "--failure-rate");
    }
}
