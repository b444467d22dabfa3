package io.forgequeue.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.forgequeue.gateway.apikey.Caller;
import java.sql.Statement;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.springframework.jdbc.core.ConnectionCallback;

/** Issue 19: strangers sending random keys cannot flush the gateway's cache of real keys. */
class ApiKeyCacheIT extends IntegrationTestBase {

    @Test
    void aFloodOfRandomKeysDoesNotFlushTheCachedKeysOfRealCallers() {
        String raw = "cache-" + UUID.randomUUID();
        Caller caller = apiKeys.ensure("cache", raw);
        assertThat(apiKeys.authenticate(raw)).contains(caller);
        // The key's row changes behind the gateway's back (no notification): only its cached copy still knows it,
        // so a lookup that reaches the database from now on fails.
        jdbc.execute((ConnectionCallback<Integer>) c -> {
            try (Statement s = c.createStatement()) {
                s.execute("set session_replication_role = replica"); // no trigger, no fq_keys notification
                int rows = s.executeUpdate("update api_key set key_hash = sha256(convert_to('moved-" + UUID.randomUUID()
                        + "', 'UTF8')) where id = '" + caller.keyId() + "'");
                s.execute("set session_replication_role = origin");
                return rows;
            }
        });

        for (int i = 0; i < 10_050; i++) {
            assertThat(apiKeys.authenticate("fq_random_" + UUID.randomUUID())).isEmpty();
        }
        Optional<Caller> after = apiKeys.authenticate(raw);

        assertThat(after).as("still served from the cache").contains(caller);
    }
}
