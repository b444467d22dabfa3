package io.forgequeue.gateway.apikey;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class BootstrapApiKeyTest {

    @Test
    void readsOneKeyOrSeveralSeparatedByCommas() {
        assertThat(BootstrapApiKey.bootstrapKeys("fq_local_abc")).containsExactly("fq_local_abc");
        assertThat(BootstrapApiKey.bootstrapKeys(" key-one , key-two,,key-one "))
                .containsExactly("key-one", "key-two");
    }

    @Test
    void readsNoKeyFromNothing() {
        assertThat(BootstrapApiKey.bootstrapKeys(null)).isEmpty();
        assertThat(BootstrapApiKey.bootstrapKeys("  ")).isEmpty();
        assertThat(BootstrapApiKey.bootstrapKeys(" , ")).isEmpty();
    }
}
