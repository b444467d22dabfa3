package io.forgequeue.gateway.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.forgequeue.gateway.apikey.KeyChange;
import io.forgequeue.gateway.system.ApiException;
import io.forgequeue.gateway.system.ApiProblem;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.json.JsonMapper;

class AdminKeyControllerTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    @Test
    void aMemberLeftOutStaysAndANullMemberGoesBackToTheDefault() {
        KeyChange change = AdminKeyController.readChange(JSON.readTree("""
                {"maxQueued": null, "weight": 2.5, "maxPriority": "high"}"""));

        assertThat(change.name()).isNull();
        assertThat(change.maxQueued()).isEqualTo(KeyChange.Setting.byDefault());
        assertThat(change.maxRunning()).isNull();
        assertThat(change.weight()).isEqualTo(KeyChange.Setting.of(2.5));
        assertThat(change.maxPriority()).isEqualTo(KeyChange.Setting.of("high"));
    }

    @Test
    void anIntegerBeyondIntStaysOutOfBoundsForTheBoundsCheck() {
        KeyChange change = AdminKeyController.readChange(JSON.readTree("{\"maxQueued\": 99999999999}"));

        assertThat(change.maxQueued().value()).isEqualTo(Integer.MAX_VALUE);
    }

    @Test
    void refusesMembersOfTheWrongTypeAndUnknownOnes() {
        assertThatThrownBy(() -> AdminKeyController.readChange(JSON.readTree("""
                {"maxQueued": 1.5, "weight": "2", "secret": "x"}""")))
                .isInstanceOfSatisfying(ApiException.class, e -> {
                    assertThat(e.problem()).isEqualTo(ApiProblem.MALFORMED_REQUEST);
                    assertThat(e.getBody().getProperties().get("errors").toString())
                            .contains("maxQueued")
                            .contains("weight")
                            .contains("secret");
                });
    }
}
