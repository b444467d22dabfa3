package io.forgequeue.gateway.queue;

import io.forgequeue.gateway.system.SqlArrays;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;

/**
 * Queue positions: 1 + the number of QUEUED jobs of the same pool with a smaller ticket. Many jobs of one pool
 * are ranked in a single pass over the pool's queued jobs (partial index {@code job_queued}).
 */
@Component
public class Positions {

    /** SQL expression for the position of the job aliased {@code j}, or null when it is not queued. */
    public static final String POSITION_SQL = """
            case when j.status = 'QUEUED' then (1 + (select count(*) from job q
                where q.pool = j.pool and q.status = 'QUEUED' and q.ticket < j.ticket))::int end""";

    private final JdbcClient jdbc;

    Positions(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    /** Current positions of those of {@code jobIds} that are still queued in {@code pool}. */
    public Map<UUID, Integer> positions(String pool, Collection<UUID> jobIds) {
        Map<UUID, Integer> out = new HashMap<>();
        if (jobIds.isEmpty()) {
            return out;
        }
        jdbc.sql("""
                        select id, pos from (
                            select id, (row_number() over (order by ticket))::int as pos
                            from job where pool = :pool and status = 'QUEUED'
                        ) ranked
                        where id = any(cast(:ids as uuid[]))""")
                .param("pool", pool)
                .param("ids", SqlArrays.of(jobIds))
                .query(rs -> {
                    out.put(rs.getObject("id", UUID.class), rs.getInt("pos"));
                });
        return out;
    }
}
