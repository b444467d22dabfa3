package io.forgequeue.forgesim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.junit.jupiter.api.Test;

class ApiAuthTest {

    private final ApiAuth auth = ApiAuth.parse("alice:secret,bob:hunter2");

    @Test
    void acceptsAnyConfiguredUserWithItsPassword() {
        assertThat(auth.reject(basic("alice:secret"))).isNull();
        assertThat(auth.reject(basic("bob:hunter2"))).isNull();
        assertThat(auth.reject("basic " + b64("bob:hunter2")))
                .as("scheme is case-insensitive")
                .isNull();
    }

    @Test
    void saysNotAuthenticatedWithoutABasicHeader() {
        assertThat(auth.reject(null)).isEqualTo("Not authenticated");
        assertThat(auth.reject("Bearer abc")).isEqualTo("Not authenticated");
    }

    @Test
    void saysIncorrectUsernameOrPasswordForWrongCredentials() {
        assertThat(auth.reject(basic("alice:wrong"))).isEqualTo("Incorrect username or password");
        assertThat(auth.reject(basic("mallory:secret"))).isEqualTo("Incorrect username or password");
    }

    @Test
    void saysInvalidCredentialsWhenTheHeaderCannotBeDecoded() {
        assertThat(auth.reject("Basic !!!notbase64")).isEqualTo("Invalid authentication credentials");
        assertThat(auth.reject(basic("no-colon-here"))).isEqualTo("Invalid authentication credentials");
    }

    @Test
    void keepsEverythingAfterTheFirstColonOfTheHeaderAsThePassword() {
        ApiAuth withColonUser = ApiAuth.parse("u:p");
        assertThat(withColonUser.reject(basic("u:p:extra"))).isEqualTo("Incorrect username or password");
    }

    @Test
    void parsesLikeForgeSoAPasswordWithAColonOrAnEmptyEntryBreaksStartup() {
        assertThatIllegalArgumentException()
                .isThrownBy(() -> ApiAuth.parse("alice:pa:ss"))
                .withMessageContaining("too many values");
        assertThatIllegalArgumentException()
                .isThrownBy(() -> ApiAuth.parse("alice:secret,"))
                .withMessageContaining("not enough values");
        assertThatIllegalArgumentException()
                .isThrownBy(() -> ApiAuth.parse("alice"))
                .withMessageContaining("not enough values");
    }

    @Test
    void treatsAnEmptySpecAsNoAuthenticationAndARepeatedUserAsLastOneWins() {
        assertThat(ApiAuth.parse("")).isNull();
        assertThat(ApiAuth.parse(null)).isNull();
        ApiAuth repeated = ApiAuth.parse("u:first,u:second");
        assertThat(repeated.reject(basic("u:second"))).isNull();
        assertThat(repeated.reject(basic("u:first"))).isNotNull();
    }

    private static String basic(String userColonPassword) {
        return "Basic " + b64(userColonPassword);
    }

    private static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }
}
