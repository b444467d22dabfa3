package io.forgequeue.worker.job;

import io.forgequeue.model.JobHeartbeat;
import io.forgequeue.model.JobPreview;
import io.forgequeue.model.JobProgressed;
import io.forgequeue.worker.forge.ForgeClient;
import io.forgequeue.worker.forge.ImageFormat;
import io.forgequeue.worker.forge.OwnProgress;
import io.forgequeue.worker.system.WorkerProperties;
import java.time.Clock;
import java.util.Arrays;
import java.util.Optional;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Watches one running attempt from the worker's scheduler threads while the listener thread waits for txt2img:
 * <ul>
 *   <li>polls Forge's progress (a second HTTP client) every {@code poll-interval}, skipping the image except when a
 *       preview is due, and sends throttled PROGRESS events; progress and previews count only while Forge works on
 *       our own txt2img ({@link ForgeClient#ownProgress}), never on another client's job (forge-api.md §11.3,
 *       §11.4);</li>
 *   <li>relays previews of at most {@link JobPreview#MAX_BYTES} on {@code relay.preview};</li>
 *   <li>sends a HEARTBEAT every {@code heartbeat-interval};</li>
 *   <li>turns a cancel or an expired shutdown grace into an interrupt, repeated on each poll until it could be sent
 *       (only while Forge runs our own call, §11.5).</li>
 * </ul>
 */
final class ProgressReporter implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ProgressReporter.class);

    private final JobAttempt attempt;
    private final ForgeClient forge;
    private final JobEventPublisher publisher;
    private final ShutdownGrace shutdown;
    private final WorkerProperties.Progress config;
    private final String workerId;
    private final Clock clock;
    private final ProgressThrottle throttle;
    private final ScheduledFuture<?> poll;
    private final ScheduledFuture<?> heartbeat;
    private long lastPreviewNanos = System.nanoTime();
    private int lastPreviewHash;

    ProgressReporter(
            JobAttempt attempt,
            ForgeClient forge,
            JobEventPublisher publisher,
            ShutdownGrace shutdown,
            WorkerProperties worker,
            Clock clock,
            ScheduledExecutorService scheduler) {
        this.attempt = attempt;
        this.forge = forge;
        this.publisher = publisher;
        this.shutdown = shutdown;
        this.config = worker.progress();
        this.workerId = worker.id();
        this.clock = clock;
        this.throttle = new ProgressThrottle(config.minInterval().toNanos());
        long pollMillis = Math.max(10, config.pollInterval().toMillis());
        long heartbeatMillis = Math.max(10, config.heartbeatInterval().toMillis());
        this.poll = scheduler.scheduleWithFixedDelay(this::pollOnce, pollMillis, pollMillis, TimeUnit.MILLISECONDS);
        this.heartbeat =
                scheduler.scheduleAtFixedRate(this::beat, heartbeatMillis, heartbeatMillis, TimeUnit.MILLISECONDS);
    }

    /** The stop request that arrived while the listener thread waits: act on it now rather than at the next poll. */
    void interruptIfStopping() {
        if (attempt.shouldStop()) {
            attempt.interruptOnce(forge::interruptOwnCall);
        }
    }

    private void pollOnce() {
        MDC.put("jobId", attempt.jobId().toString());
        try {
            if (shutdown.graceExpired() && !attempt.giveBackRequested()) {
                log.warn(
                        "Job(id={}) still running after the shutdown grace period; interrupting Forge and giving "
                                + "the job back",
                        attempt.jobId());
                attempt.requestGiveBack();
            }
            interruptIfStopping();
            if (!forge.isCallInFlight() || attempt.shouldStop()) {
                return;
            }
            long now = System.nanoTime();
            boolean previewDue = config.previews()
                    && now - lastPreviewNanos >= config.previewInterval().toNanos();
            Optional<OwnProgress> read = forge.ownProgress(previewDue);
            if (read.isEmpty() || !forge.isCallInFlight()) {
                return;
            }
            OwnProgress p = read.get();
            if (throttle.offer(p.percent(), now)) {
                attempt.events()
                        .send(seq -> new JobProgressed(
                                attempt.jobId(),
                                attempt.attempt(),
                                workerId,
                                seq,
                                clock.instant(),
                                p.step(),
                                p.steps(),
                                p.percent(),
                                p.etaSeconds()));
            }
            if (previewDue) {
                lastPreviewNanos = now;
                relayPreview(p);
            }
        } catch (RuntimeException e) {
            log.debug("Progress poll failed: {}", e.toString());
        } finally {
            MDC.remove("jobId");
        }
    }

    private void relayPreview(OwnProgress p) {
        byte[] image = p.preview();
        if (image == null || image.length == 0 || image.length > JobPreview.MAX_BYTES) {
            return;
        }
        int hash = Arrays.hashCode(image);
        if (hash == lastPreviewHash) {
            return;
        }
        lastPreviewHash = hash;
        publisher.sendPreview(new JobPreview(
                attempt.jobId(),
                attempt.attempt(),
                workerId,
                clock.instant(),
                p.step(),
                p.steps(),
                ImageFormat.detect(image).mimeType(),
                image));
    }

    private void beat() {
        MDC.put("jobId", attempt.jobId().toString());
        try {
            attempt.events()
                    .send(seq -> new JobHeartbeat(attempt.jobId(), attempt.attempt(), workerId, seq, clock.instant()));
        } catch (RuntimeException e) {
            log.debug("Heartbeat failed: {}", e.toString());
        } finally {
            MDC.remove("jobId");
        }
    }

    /** Stops polling and heartbeats (a poll under way may finish; the closed event stream drops its event). */
    @Override
    public void close() {
        poll.cancel(false);
        heartbeat.cancel(false);
    }
}
