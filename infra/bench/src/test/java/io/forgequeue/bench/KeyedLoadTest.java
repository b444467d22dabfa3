package io.forgequeue.bench;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class KeyedLoadTest {

    @Test
    void aPoolWithoutJobHistoryHasNoMeanJobTimeEvenWithoutAFallback() {
        // regression: unboxing the null fallback threw, which silently ended the scenario's queue sampling
        String noHistory = "{\"pools\":[{\"pool\":\"default\",\"depth\":3,\"meanJobSeconds\":null,\"samples\":0}]}";
        String history = "{\"pools\":[{\"pool\":\"default\",\"depth\":3,\"meanJobSeconds\":1.25,\"samples\":20}]}";

        assertThat(KeyedLoad.meanJobSeconds(Json.MAPPER.readTree(noHistory), null))
                .isNull();
        assertThat(KeyedLoad.meanJobSeconds(Json.MAPPER.readTree(noHistory), 2.0))
                .isEqualTo(2.0);
        assertThat(KeyedLoad.meanJobSeconds(Json.MAPPER.readTree(history), null))
                .isEqualTo(1.25);
    }

    @Test
    void roundingKeepsAMissingFigureMissing() {
        assertThat(DutyScenario.round(Double.NaN, 2)).isNaN();
        assertThat(DutyScenario.round(1.2345, 2)).isEqualTo(1.23);
    }
}
