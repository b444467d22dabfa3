package io.forgequeue.gateway.schedule;

import io.forgequeue.gateway.job.JobMoves;
import io.forgequeue.gateway.system.InstanceProperties;
import io.forgequeue.gateway.system.ThreadPools;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.dao.DataAccessException;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.scheduling.concurrent.ThreadPoolTaskScheduler;
import org.springframework.stereotype.Component;

/**
 * Leadership among the gateways: the one row of {@code scheduler_lease}. A gateway takes the lease when it has
 * expired (or was released) and renews it every {@link SchedulerProperties#renewInterval()}; the epoch grows with
 * every change of holder. This gateway counts itself leader only until {@code ttl} after the start of its last
 * successful renewal (its own clock), so it stops acting before anyone else can take over, and every statement that
 * hands out or takes back work checks holder and epoch in PostgreSQL as well. On shutdown the lease is released, so
 * another gateway takes over at its next attempt. One named thread ({@code scheduler-lease}). Thread-safe.
 */
@Component
class SchedulerLease implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(SchedulerLease.class);

    private final JdbcClient jdbc;
    private final SchedulerProperties properties;
    private final String holder;
    private final List<Runnable> onAcquired = new CopyOnWriteArrayList<>();
    private final Counter acquisitions;
    private volatile JobMoves.Lease lease;
    private volatile long validUntilNanos;
    private volatile boolean running;
    private volatile boolean failing;
    private final ThreadPoolTaskScheduler timer = ThreadPools.scheduler("scheduler-lease", 1);
    private final MeterRegistry meters;

    SchedulerLease(JdbcClient jdbc, SchedulerProperties properties, InstanceProperties instance, MeterRegistry meters) {
        this.jdbc = jdbc;
        this.properties = properties;
        this.holder = instance.instanceId();
        this.meters = meters;
        timer.setAwaitTerminationMillis(2000);
        this.acquisitions = Counter.builder("gpu.gateway.scheduler.leader.changes")
                .description("Times this gateway became the scheduler (leader)")
                .register(meters);
        Gauge.builder("gpu.gateway.scheduler.leader", this, l -> l.current().isPresent() ? 1 : 0)
                .description("1 while this gateway is the scheduler (holds the lease), else 0")
                .register(meters);
    }

    /** Called (on the lease thread) each time this gateway becomes leader. */
    void onAcquired(Runnable listener) {
        onAcquired.add(listener);
    }

    /** The lease while this gateway holds it and its own clock says it is still valid, else empty. */
    Optional<JobMoves.Lease> current() {
        JobMoves.Lease l = lease;
        return l != null && System.nanoTime() - validUntilNanos < 0 ? Optional.of(l) : Optional.empty();
    }

    /** This gateway's id as the lease names it. */
    String holder() {
        return holder;
    }

    /** Takes or renews the lease; called every renew interval. */
    void renew() {
        long started = System.nanoTime();
        try {
            Optional<Long> epoch = jdbc.sql("""
                            update scheduler_lease
                            set holder = :me,
                                epoch = case when holder = :me and expires_at > now() then epoch else epoch + 1 end,
                                expires_at = now() + make_interval(secs => :ttl)
                            where id = 1 and (holder = :me or expires_at <= now() or holder is null)
                            returning epoch""")
                    .param("me", holder)
                    .param("ttl", (double) properties.leaseTtl().toMillis() / 1000)
                    .query(Long.class)
                    .optional();
            if (failing) {
                failing = false;
                log.info("Scheduler lease reachable again");
            }
            if (epoch.isEmpty()) {
                if (lease != null) {
                    log.warn("Scheduler lease lost: another gateway holds it now");
                }
                lease = null;
                return;
            }
            boolean acquired = lease == null || lease.epoch() != epoch.get();
            lease = new JobMoves.Lease(holder, epoch.get());
            validUntilNanos = started + properties.leaseTtl().toNanos();
            if (acquired) {
                acquisitions.increment();
                log.info("This gateway ({}) is now the scheduler (lease epoch {})", holder, epoch.get());
                onAcquired.forEach(Runnable::run);
            }
        } catch (DataAccessException e) {
            if (!failing) {
                failing = true;
                log.warn(
                        "Scheduler lease not renewed ({}); this gateway stops scheduling when it expires",
                        e.getClass().getSimpleName());
            }
        }
    }

    /** Gives the lease up so another gateway takes over at once (on shutdown). */
    void release() {
        JobMoves.Lease l = lease;
        lease = null;
        if (l == null) {
            return;
        }
        try {
            jdbc.sql("update scheduler_lease set expires_at = now() where id = 1 and holder = :me and epoch = :epoch")
                    .param("me", holder)
                    .param("epoch", l.epoch())
                    .update();
            log.info("Scheduler lease released");
        } catch (DataAccessException e) {
            log.warn(
                    "Scheduler lease not released ({}); another gateway takes over when it expires",
                    e.getClass().getSimpleName());
        }
    }

    @Override
    public void start() {
        running = true;
        if (!properties.enabled()) {
            log.info("This gateway never schedules (gateway.scheduler.enabled=false)");
            return;
        }
        ThreadPools.start(timer, meters);
        timer.scheduleWithFixedDelay(this::renew, Instant.now(), properties.renewInterval());
    }

    @Override
    public void stop() {
        running = false;
        timer.shutdown(); // waits up to 2 s for a renewal in progress
        release();
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    /** After the index and the listeners: a new leader should already know the queue and the fleet. */
    @Override
    public int getPhase() {
        return Integer.MAX_VALUE - 2000;
    }
}
