package io.forgequeue.gateway.apikey;

import static org.assertj.core.api.Assertions.assertThat;

import io.forgequeue.gateway.quota.Priority;
import io.forgequeue.gateway.quota.Quota;
import java.util.HashSet;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class KeySecretsTest {

    private final KeySecrets secrets = new KeySecrets();

    @Test
    void makesKeysWithTheRecognisablePrefixAndAtLeast128RandomBits() {
        String key = secrets.generate();

        assertThat(key).matches("fq_[0-9A-Za-z]{32}");
        assertThat(KeySecrets.entropyBits()).isGreaterThanOrEqualTo(128);
    }

    @Test
    void neverMakesTheSameKeyTwiceAndUsesTheWholeAlphabet() {
        Set<String> keys = new HashSet<>();
        Set<Character> used = new HashSet<>();

        for (int i = 0; i < 2000; i++) {
            String key = secrets.generate();
            keys.add(key);
            key.substring(3).chars().forEach(c -> used.add((char) c));
        }

        assertThat(keys).hasSize(2000);
        assertThat(used).hasSize(62);
    }

    @Test
    void showsOperatorsOnlyAFewCharactersOfAGeneratedKey() {
        String key = secrets.generate();

        assertThat(ApiKeys.prefixOf(key)).isEqualTo(key.substring(0, 8));
    }

    @Test
    void aCreatedKeyNeverPrintsItsSecret() {
        String key = secrets.generate();
        CreatedKey created = new CreatedKey(
                new ManagedKey(
                        UUID.randomUUID(),
                        "n",
                        "fq_abcde",
                        null,
                        null,
                        null,
                        null,
                        null,
                        null,
                        null,
                        new Quota(1, 0, 1, Priority.NORMAL)),
                key);

        assertThat(created.toString()).doesNotContain(key.substring(3));
    }
}
