package io.forgequeue.gateway.outbox;

import io.forgequeue.gateway.system.DbTime;
import io.forgequeue.gateway.system.SqlArrays;
import io.forgequeue.model.CancelJobCommand;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;

/** Statements on the outbox table. Claims use FOR UPDATE SKIP LOCKED, so any number of gateways can sweep. */
@Repository
class OutboxRepository {

    private final JdbcClient jdbc;

    OutboxRepository(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    /**
     * A claimed entry; {@code stale} when there is nothing to publish (a job message entry written by a version
     * before the scheduler: jobs are handed out by the scheduler now).
     */
    record Claimed(OutboxEntry entry, boolean stale) {}

    /**
     * Claims up to {@code limit} unsent entries that nobody holds (never claimed, released, or lease expired) for
     * {@code lease}, oldest first, and returns them with what to publish.
     */
    List<Claimed> claim(String instance, Duration lease, int limit) {
        return jdbc.sql("""
                        with picked as (
                            select id from outbox
                            where sent_at is null and (claimed_until is null or claimed_until < now())
                            order by id
                            limit :limit
                            for update skip locked
                        ), claimed as (
                            update outbox o
                            set claimed_by = :instance, claimed_until = now() + make_interval(secs => :lease),
                                attempts = o.attempts + 1
                            from picked where o.id = picked.id
                            returning o.id, o.kind, o.job_id, o.created_at, o.attempts
                        )
                        select c.id, c.kind, c.job_id, c.created_at, c.attempts from claimed c order by c.id""")
                .param("instance", instance)
                .param("lease", (double) lease.toMillis() / 1000)
                .param("limit", limit)
                .query((rs, i) -> {
                    long id = rs.getLong("id");
                    int attempts = rs.getInt("attempts");
                    UUID jobId = rs.getObject("job_id", UUID.class);
                    if ("CANCEL".equals(rs.getString("kind"))) {
                        return new Claimed(
                                new OutboxEntry(
                                        id, attempts, new CancelJobCommand(jobId, DbTime.get(rs, "created_at"))),
                                false);
                    }
                    return new Claimed(new OutboxEntry(id, attempts, null), true);
                })
                .list();
    }

    void markSent(Collection<Long> ids) {
        jdbc.sql("update outbox set sent_at = now(), claimed_until = null where id = any(cast(:ids as bigint[]))")
                .param("ids", SqlArrays.of(ids))
                .update();
    }

    /** Gives claimed entries back so that the next sweep (of any instance) publishes them. */
    void release(Collection<Long> ids) {
        jdbc.sql("""
                        update outbox set claimed_by = null, claimed_until = null
                        where id = any(cast(:ids as bigint[])) and sent_at is null""").param("ids", SqlArrays.of(ids)).update();
    }

    /** Seconds since the oldest unsent entry was written, 0 when none. */
    double lagSeconds() {
        return jdbc.sql("""
                        select coalesce(extract(epoch from now() - min(created_at)), 0)::float8
                        from (select created_at from outbox where sent_at is null order by id limit 1) oldest""").query(Double.class).single();
    }

    int purgeSent(Duration retention) {
        return jdbc.sql("""
                        delete from outbox where id in (
                            select id from outbox where sent_at < now() - make_interval(secs => :retention) limit 10000)""").param("retention", (double) retention.toSeconds()).update();
    }
}
