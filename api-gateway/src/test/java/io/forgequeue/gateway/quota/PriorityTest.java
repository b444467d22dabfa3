package io.forgequeue.gateway.quota;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import tools.jackson.databind.json.JsonMapper;

/** Priority classes and per-key quotas. */
class PriorityTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    @Test
    void classesAreServedHighThenNormalThenLowAndStoredAsTheirLevel() {
        assertThat(Priority.HIGH.level()).isZero();
        assertThat(Priority.NORMAL.level()).isEqualTo(1);
        assertThat(Priority.LOW.level()).isEqualTo(2);
        for (Priority p : Priority.values()) {
            assertThat(Priority.ofLevel(p.level())).isEqualTo(p);
        }
        assertThatThrownBy(() -> Priority.ofLevel(3)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aKeyMayAskForItsMaximumClassAndAnyLowerOne() {
        assertThat(Priority.HIGH.allowedBy(Priority.HIGH)).isTrue();
        assertThat(Priority.HIGH.allowedBy(Priority.NORMAL)).isFalse();
        assertThat(Priority.HIGH.allowedBy(Priority.LOW)).isFalse();
        assertThat(Priority.NORMAL.allowedBy(Priority.HIGH)).isTrue();
        assertThat(Priority.NORMAL.allowedBy(Priority.NORMAL)).isTrue();
        assertThat(Priority.NORMAL.allowedBy(Priority.LOW)).isFalse();
        assertThat(Priority.LOW.allowedBy(Priority.LOW)).isTrue();
    }

    @Test
    void travelsAsLowerCaseWordsAndReadsAnyCaseButNothingElse() {
        assertThat(JSON.writeValueAsString(Priority.HIGH)).isEqualTo("\"high\"");
        assertThat(JSON.readValue("\"Low\"", Priority.class)).isEqualTo(Priority.LOW);
        assertThat(Priority.fromWire(" normal ")).isEqualTo(Priority.NORMAL);
        assertThatThrownBy(() -> Priority.fromWire("urgent"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("high, normal, low");
        assertThatThrownBy(() -> Priority.fromWire(null)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Priority.fromWire("0")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aKeysOwnLimitsWinOverTheDefaultsAndZeroRunningMeansNoLimit() {
        QuotaProperties defaults = new QuotaProperties(50, 0, 1.0, Priority.NORMAL);

        Quota plain = defaults.resolve(null, null, null, null);
        Quota own = defaults.resolve(5, 2, 3.0, Priority.HIGH.level());

        assertThat(plain).isEqualTo(new Quota(50, 0, 1.0, Priority.NORMAL));
        assertThat(plain.mayRunMore(1_000)).isTrue();
        assertThat(own).isEqualTo(new Quota(5, 2, 3.0, Priority.HIGH));
        assertThat(own.mayRunMore(1)).isTrue();
        assertThat(own.mayRunMore(2)).isFalse();
    }

    @Test
    void refusesQuotasThatMakeNoSense() {
        assertThatThrownBy(() -> new Quota(-1, 0, 1, Priority.NORMAL)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Quota(1, -1, 1, Priority.NORMAL)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Quota(1, 0, 0, Priority.NORMAL)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Quota(1, 0, Double.NaN, Priority.NORMAL))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Quota(1, 0, 1, null)).isInstanceOf(NullPointerException.class);
    }
}
