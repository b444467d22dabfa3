package io.forgequeue.gateway.queue;

import io.forgequeue.gateway.system.PostgresNotifications;
import io.forgequeue.gateway.system.WireJson;
import io.forgequeue.model.JobStatus;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.util.List;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;
import tools.jackson.databind.JsonNode;

/**
 * Keeps the {@link QueueIndex} equal to PostgreSQL: the {@code fq_queue} notifications of the job table's trigger
 * (migration V2) are applied as they arrive, and after every (re)connect of the notification connection the index
 * is reloaded from the jobs that are QUEUED or assigned (served by the partial indexes {@code job_queued} and
 * {@code job_assigned}; it never reads finished jobs).
 */
@Component
class QueueFeed {

    static final String CHANNEL = "fq_queue";

    private static final Logger log = LoggerFactory.getLogger(QueueFeed.class);

    static final String RELOAD_SQL = """
            select id, version, status, pool, owner_key_id, priority, fair_tag, ticket, checkpoint, sampler, cost,
                   queued_at, assigned_worker, attempt, assigned_at, started_at
            from job
            where status = 'QUEUED' or assigned_worker is not null""";

    private final QueueIndex index;
    private final JdbcClient jdbc;
    private final WireJson json;

    QueueFeed(QueueIndex index, JdbcClient jdbc, WireJson json, PostgresNotifications notifications) {
        this.index = index;
        this.jdbc = jdbc;
        this.json = json;
        notifications.listen(CHANNEL, this::onNotification, this::reload);
    }

    void onNotification(String payload) {
        index.apply(parse(json.read(payload, JsonNode.class)));
    }

    /** Reads every queued or assigned job into the index. */
    void reload() {
        long started = System.nanoTime();
        List<JobState> states = jdbc.sql(RELOAD_SQL).query((rs, i) -> row(rs)).list();
        index.replaceAll(states);
        log.info(
                "Queue index loaded: {} queued or assigned jobs in {} ms",
                states.size(),
                (System.nanoTime() - started) / 1_000_000);
    }

    static JobState row(ResultSet rs) throws SQLException {
        return new JobState(
                rs.getObject("id", UUID.class),
                rs.getLong("version"),
                JobStatus.valueOf(rs.getString("status")),
                rs.getString("pool"),
                rs.getObject("owner_key_id", UUID.class),
                rs.getInt("priority"),
                rs.getDouble("fair_tag"),
                rs.getLong("ticket"),
                rs.getString("checkpoint"),
                rs.getString("sampler"),
                rs.getDouble("cost"),
                millis(rs.getTimestamp("queued_at")),
                rs.getString("assigned_worker"),
                rs.getInt("attempt"),
                millis(rs.getTimestamp("assigned_at")),
                millis(rs.getTimestamp("started_at")));
    }

    static JobState parse(JsonNode n) {
        return new JobState(
                UUID.fromString(n.get("id").asString()),
                n.get("v").asLong(),
                JobStatus.valueOf(n.get("s").asString()),
                n.get("p").asString(),
                UUID.fromString(n.get("o").asString()),
                n.get("pr").asInt(),
                n.get("t").asDouble(),
                n.get("k").asLong(),
                text(n, "c"),
                text(n, "sa"),
                n.get("co").asDouble(),
                longOr0(n, "q"),
                text(n, "w"),
                n.get("a").asInt(),
                longOr0(n, "as"),
                longOr0(n, "st"));
    }

    private static String text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        return v == null || v.isNull() ? null : v.asString();
    }

    private static long longOr0(JsonNode n, String field) {
        JsonNode v = n.get(field);
        return v == null || v.isNull() ? 0 : v.asLong();
    }

    private static long millis(Timestamp t) {
        return t == null ? 0 : t.getTime();
    }
}
