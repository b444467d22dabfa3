package io.forgequeue.gateway.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.forgequeue.gateway.apikey.ApiKeyProperties;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class AdminTokensTest {

    private static final String TOKEN = "an-admin-token-of-enough-length-1";
    private static final String OTHER = "an-admin-token-of-enough-length-2";

    @Test
    void acceptsEveryConfiguredTokenAndNothingElse() {
        AdminTokens tokens = new AdminTokens(new AdminProperties(List.of(TOKEN, " " + OTHER + " ")), noBootstrap());

        assertThat(tokens.enabled()).isTrue();
        assertThat(tokens.matches(TOKEN)).isTrue();
        assertThat(tokens.matches(OTHER)).isTrue();
        assertThat(tokens.matches(TOKEN + "x")).isFalse();
        assertThat(tokens.matches(TOKEN.substring(1))).isFalse();
        assertThat(tokens.matches("")).isFalse();
        assertThat(tokens.matches(null)).isFalse();
    }

    @Test
    void isOffWithoutTokens() {
        AdminTokens tokens = new AdminTokens(new AdminProperties(List.of("", " ")), noBootstrap());

        assertThat(tokens.enabled()).isFalse();
        assertThat(tokens.matches("")).isFalse();
    }

    @Test
    void refusesAShortTokenWithoutShowingIt() {
        assertThatThrownBy(() -> new AdminProperties(List.of(TOKEN, "short-secret")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("token 2")
                .hasMessageNotContaining("short-secret");
    }

    @Test
    void refusesATokenThatIsAlsoAnApiKey() {
        ApiKeyProperties bootstrap = new ApiKeyProperties("some-key," + TOKEN, Duration.ofSeconds(60));

        assertThatThrownBy(() -> new AdminTokens(new AdminProperties(List.of(TOKEN)), bootstrap))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("never a user's key")
                .hasMessageNotContaining(TOKEN);
    }

    private static ApiKeyProperties noBootstrap() {
        return new ApiKeyProperties("", Duration.ofSeconds(60));
    }
}
