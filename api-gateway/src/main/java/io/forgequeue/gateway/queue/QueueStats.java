package io.forgequeue.gateway.queue;

import io.forgequeue.gateway.system.GatewayMetrics;
import io.forgequeue.model.JobStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.dao.DataAccessException;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;

import java.time.Instant;
import java.util.HashMap;
import java.util.Map;

/**
 * A periodically refreshed snapshot of the queue (depths, active workers, recent job times), so that ETAs, the
 * queue overview and the state gauges never cost a query each. Two small queries per refresh, served by partial
 * indexes. Thread-safe (the snapshot is an immutable value swapped atomically).
 */
@Component
public class QueueStats {

    private static final Logger log = LoggerFactory.getLogger(QueueStats.class);

    private final JdbcClient jdbc;
    private final QueueProperties properties;
    private final GatewayMetrics metrics;
    private volatile QueueSnapshot snapshot = QueueSnapshot.empty();
    private volatile boolean failing;

    QueueStats(JdbcClient jdbc, QueueProperties properties, GatewayMetrics metrics) {
        this.jdbc = jdbc;
        this.properties = properties;
        this.metrics = metrics;
    }

    /** The latest snapshot (refreshed every {@link QueueProperties#refreshInterval()}). */
    public QueueSnapshot snapshot() {
        return snapshot;
    }

    /** The ETA of the job at {@code position} with the latest snapshot, or null if unknown. */
    public Eta etaFor(Integer position) {
        return position == null ? null : Eta.of(position, snapshot, properties.minSamplesForRange());
    }

    @Scheduled(fixedDelayString = "${gateway.queue.refresh-interval:1s}", initialDelay = 0)
    void refresh() {
        try {
            snapshot = load();
            Map<String, Long> queued = new HashMap<>();
            Map<String, Long> running = new HashMap<>();
            snapshot.pools().forEach((pool, counts) -> {
                queued.put(pool, counts.queued());
                running.put(pool, counts.running());
            });
            metrics.jobsInState(JobStatus.QUEUED, queued);
            metrics.jobsInState(JobStatus.RUNNING, running);
            metrics.activeWorkers(snapshot.activeWorkers());
            if (failing) {
                log.info("Queue statistics refresh works again");
                failing = false;
            }
        } catch (DataAccessException e) {
            if (!failing) {
                log.warn("Queue statistics refresh failed; keeping the last snapshot: {}", e.getClass().getSimpleName());
                failing = true;
            }
        }
    }

    QueueSnapshot load() {
        Map<String, long[]> counts = new HashMap<>();
        jdbc.sql("""
                        select 'Q' as s, pool, count(*) as n from job where status = 'QUEUED' group by pool
                        union all
                        select 'R' as s, pool, count(*) as n from job where status = 'RUNNING' group by pool""")
                .query(rs -> {
                    long[] c = counts.computeIfAbsent(rs.getString("pool"), p -> new long[2]);
                    c[rs.getString("s").equals("Q") ? 0 : 1] = rs.getLong("n");
                });
        Map<String, QueueSnapshot.PoolCounts> pools = new HashMap<>();
        counts.forEach((pool, c) -> pools.put(pool, new QueueSnapshot.PoolCounts(c[0], c[1])));
        return jdbc.sql("""
                        with recent as (
                            select extract(epoch from finished_at - started_at)::float8 as d
                            from job
                            where finished_at > now() - make_interval(secs => :history)
                              and status = 'SUCCEEDED' and started_at is not null
                            order by finished_at desc
                            limit :samples
                        )
                        select (select count(distinct worker_id) from (
                                    select worker_id from job
                                    where status = 'RUNNING' and last_event_at > now() - make_interval(secs => :workers)
                                    union all
                                    select worker_id from job
                                    where finished_at > now() - make_interval(secs => :workers) and worker_id is not null
                                ) w) as workers,
                               count(*) as samples,
                               avg(greatest(d, 0)) as mean,
                               percentile_cont(0.2) within group (order by greatest(d, 0)) as low,
                               percentile_cont(0.8) within group (order by greatest(d, 0)) as high
                        from recent""")
                .param("history", (double) properties.historyWindow().toSeconds())
                .param("samples", properties.historySamples())
                .param("workers", (double) properties.workerWindow().toSeconds())
                .query((rs, i) -> new QueueSnapshot(pools, rs.getInt("workers"), rs.getInt("samples"),
                        (Double) rs.getObject("mean"), (Double) rs.getObject("low"), (Double) rs.getObject("high"),
                        Instant.now()))
                .single();
    }
}
