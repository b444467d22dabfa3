package io.forgequeue.gateway.apikey;

import io.forgequeue.gateway.system.PostgresNotifications;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.springframework.dao.DataAccessException;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

/**
 * The names of API keys by id, for the per-key meters: names are chosen by operators and shown on dashboards (the
 * secret and its hash are never read here). Each name is read once and kept until the key changes (notification
 * {@code fq_keys} from any gateway) or the notifications had a gap. Thread-safe.
 */
@Component
public class KeyNames {

    private static final int CACHE_MAX = 10_000;

    private final JdbcClient jdbc;
    private final Map<UUID, String> names = new ConcurrentHashMap<>();

    KeyNames(JdbcClient jdbc, PostgresNotifications notifications) {
        this.jdbc = jdbc;
        notifications.listen(ApiKeys.CHANNEL, this::onKeyChanged, names::clear);
    }

    /** The name of the key with this id; null when there is no such key or PostgreSQL cannot be asked now. */
    public String nameOf(UUID keyId) {
        if (keyId == null) {
            return null;
        }
        String name = names.get(keyId);
        if (name != null) {
            return name;
        }
        try {
            name = jdbc.sql("select name from api_key where id = :id")
                    .param("id", keyId)
                    .query(String.class)
                    .optional()
                    .orElse(null);
        } catch (DataAccessException e) {
            return null;
        }
        if (name != null) {
            if (names.size() >= CACHE_MAX) {
                names.clear();
            }
            names.put(keyId, name);
        }
        return name;
    }

    private void onKeyChanged(String payload) {
        try {
            names.remove(UUID.fromString(payload));
        } catch (IllegalArgumentException e) {
            // not a key id: nothing cached under it
        }
    }
}
