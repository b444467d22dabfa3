package io.forgequeue.gateway.relay;

import io.forgequeue.gateway.apikey.Caller;
import io.forgequeue.gateway.job.JobQueries;
import io.forgequeue.gateway.job.JobQueries.JobVersion;
import io.forgequeue.gateway.job.JobView;
import io.forgequeue.gateway.system.GatewayMetrics;
import io.forgequeue.gateway.system.ThreadPools;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.dao.DataAccessException;
import org.springframework.scheduling.concurrent.ThreadPoolTaskScheduler;
import org.springframework.stereotype.Component;

/**
 * Makes the delivery of every job change to this instance's WebSocket clients certain, not just likely. The relay
 * ({@code relay.update} on the events exchange) is transient and fire-and-forget: an update is lost when the
 * gateway that committed the change cannot reach the broker, when this instance's relay queue is gone (broker
 * restart) or while this instance reconnects. So every {@link RelayProperties#reconcileInterval()} (and right
 * after the broker connection came back) this compares what the sessions were sent with PostgreSQL and sends what
 * is newer:
 * <ul>
 *   <li>every watched job that was not terminal when last sent: one primary-key lookup of all their versions;</li>
 *   <li>for the owners with an all-jobs session: their QUEUED and RUNNING jobs and every job created since the ticket
 *       watermark read two runs earlier (a job created and finished entirely while the relay was broken is found
 *       too; reading the watermark two runs back covers an insert that was still uncommitted at the last run).</li>
 * </ul>
 * Only a job whose stored version is newer than the one a session has is read whole and sent (as an {@code update},
 * so the client's rules are unchanged: versions only increase). With a working relay that is (almost) never.
 */
@Component
class SessionReconciler implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(SessionReconciler.class);
    /** Ticket watermarks of the last runs; the oldest one bounds the "created since" part. */
    private static final int WATERMARKS = 2;

    private final SocketRegistry registry;
    private final JobQueries jobs;
    private final Frames frames;
    private final GatewayMetrics metrics;
    private final RelayProperties properties;
    private final Deque<Long> watermarks = new ArrayDeque<>();
    private final ThreadPoolTaskScheduler timer = ThreadPools.scheduler("ws-reconcile", 1);
    private final MeterRegistry meters;
    private boolean failing;
    private volatile boolean running;

    SessionReconciler(
            SocketRegistry registry,
            JobQueries jobs,
            Frames frames,
            GatewayMetrics metrics,
            RelayProperties properties,
            MeterRegistry meters) {
        this.meters = meters;
        this.registry = registry;
        this.jobs = jobs;
        this.frames = frames;
        this.metrics = metrics;
        this.properties = properties;
    }

    @Override
    public void start() {
        try {
            // before the web server accepts the first session: every job created later has a higher ticket
            watermarks.addLast(jobs.ticketWatermark());
        } catch (DataAccessException e) {
            log.warn(
                    "WebSocket reconcile: no ticket watermark yet ({})",
                    e.getClass().getSimpleName());
        }
        long every = properties.reconcileInterval().toMillis();
        if (every <= 0) {
            throw new IllegalStateException("gateway.websocket.reconcile-interval must be positive");
        }
        ThreadPools.start(timer, meters);
        running = true;
        timer.scheduleWithFixedDelay(this::reconcileQuietly, Instant.now().plusMillis(every), Duration.ofMillis(every));
    }

    @Override
    public void stop() {
        running = false;
        timer.shutdown();
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    /** Before the web server: the watermark is read before the first session arrives. */
    @Override
    public int getPhase() {
        return ThreadPools.PHASE;
    }

    /** Reconciles soon, on the reconciler's thread (e.g. after the broker connection came back). */
    void reconcileSoon() {
        timer.schedule(this::reconcileQuietly, Instant.now().plusSeconds(1));
    }

    private void reconcileQuietly() {
        try {
            int sent = reconcile();
            if (failing) {
                log.info("WebSocket reconcile works again");
                failing = false;
            }
            if (sent > 0) {
                log.info("WebSocket reconcile sent {} job update(s) the relay had not delivered", sent);
            }
        } catch (DataAccessException e) {
            if (!failing) {
                log.warn(
                        "WebSocket reconcile failed, database unavailable: {}",
                        e.getClass().getSimpleName());
                failing = true;
            }
        } catch (RuntimeException e) {
            log.warn("WebSocket reconcile failed", e);
        }
    }

    /**
     * One run (on the reconciler's thread, or a test's). Returns the number of update frames sent.
     *
     * @throws DataAccessException when PostgreSQL cannot be reached (the next run covers this one's period too)
     */
    synchronized int reconcile() {
        // a finished job an all-jobs session was sent is kept past the watermark window (two runs), so this run never
        // finds it "lacking" and sends it again
        registry.forgetFinishedAutoWatches(
                System.nanoTime() - properties.reconcileInterval().toNanos() * (WATERMARKS + 2));
        long watermark = jobs.ticketWatermark();
        Map<UUID, List<SocketSession>> unfinished = new HashMap<>();
        Map<UUID, List<SocketSession>> allJobsByOwner = new HashMap<>();
        for (SocketSession session : registry.all()) {
            Caller caller = session.caller();
            if (caller == null) {
                continue;
            }
            for (UUID jobId : session.unfinishedVersions().keySet()) {
                unfinished.computeIfAbsent(jobId, id -> new ArrayList<>()).add(session);
            }
            if (session.allJobs()) {
                allJobsByOwner
                        .computeIfAbsent(caller.keyId(), id -> new ArrayList<>())
                        .add(session);
            }
        }
        Long oldest = watermarks.peekFirst();
        int sent = 0;
        if (!unfinished.isEmpty() || !allJobsByOwner.isEmpty()) {
            Map<UUID, Optional<JobView>> loaded = new HashMap<>();
            for (JobVersion v : jobs.versions(unfinished.keySet())) {
                for (SocketSession session : unfinished.getOrDefault(v.id(), List.of())) {
                    sent += sendIfLacking(session, v, false, loaded);
                }
            }
            if (!allJobsByOwner.isEmpty()) {
                // without any watermark (the database was away at start): what is in flight now
                long after = oldest == null ? watermark : oldest;
                for (JobVersion v : jobs.inFlightOrNewer(allJobsByOwner.keySet(), after)) {
                    for (SocketSession session : allJobsByOwner.getOrDefault(v.ownerKeyId(), List.of())) {
                        sent += sendIfLacking(session, v, session.allJobs(), loaded);
                    }
                }
            }
        }
        watermarks.addLast(watermark);
        while (watermarks.size() > WATERMARKS) {
            watermarks.removeFirst();
        }
        return sent;
    }

    private int sendIfLacking(
            SocketSession session, JobVersion v, boolean autoWatch, Map<UUID, Optional<JobView>> loaded) {
        Caller caller = session.caller();
        if (caller == null
                || !caller.keyId().equals(v.ownerKeyId())
                || !session.lacks(v.id(), v.version(), autoWatch)) {
            return 0; // never cross keys
        }
        Optional<JobView> view = loaded.computeIfAbsent(v.id(), id -> jobs.find(v.ownerKeyId(), id));
        if (view.isEmpty() || !session.update(view.get(), autoWatch, frames)) {
            return 0;
        }
        if (autoWatch) {
            registry.index(session, v.id());
        }
        metrics.framePushed("update");
        return 1;
    }
}
