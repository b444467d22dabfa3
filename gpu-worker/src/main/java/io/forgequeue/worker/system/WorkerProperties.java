package io.forgequeue.worker.system;

import io.forgequeue.model.Topology;
import jakarta.validation.Valid;
import jakarta.validation.constraints.AssertTrue;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;
import java.net.InetAddress;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.ConstructorBinding;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.util.unit.DataSize;
import org.springframework.validation.annotation.Validated;

/**
 * Settings of the worker itself ({@code worker.*}). The Forge connection has its own record
 * ({@code worker.forge.*}, {@code io.forgequeue.worker.forge.ForgeProperties}).
 *
 * @param id            this worker's id (env {@code WORKER_ID}); blank means "hostname plus a random suffix", unique
 *                      per process, so that two processes never share a job or control queue
 * @param pool          the pool this worker serves: the scheduler hands it only this pool's jobs, and its dead letters
 *                      go to the pool's dead-letter queue (env {@code WORKER_POOL})
 * @param maxAttempts   a job message whose attempt number is above this fails with TOO_MANY_ATTEMPTS instead of running
 *                      (keep it at least the scheduler's {@code gateway.scheduler.max-attempts})
 * @param shutdownGrace on SIGTERM, how long the running job may still take before Forge is interrupted and the job
 *                      is given back to the queue
 * @param confirmTimeout how long to wait for the broker to confirm an event
 * @param outcome       how long a job's outcome event is sent again when the broker does not confirm it
 * @param progress      progress polling, throttling, heartbeats and previews
 * @param cancel        the memory of cancel commands for jobs not running here
 * @param presence      how often the worker announces itself to the gateways
 */
@Validated
@ConfigurationProperties("worker")
public record WorkerProperties(
        String id,
        @DefaultValue(Topology.DEFAULT_POOL) String pool,
        @DefaultValue("5") @Min(1) int maxAttempts,
        @DefaultValue("30s") @NotNull Duration shutdownGrace,
        @DefaultValue("10s") @NotNull Duration confirmTimeout,
        @DefaultValue @Valid Outcome outcome,
        @DefaultValue @Valid Progress progress,
        @DefaultValue @Valid Cancel cancel,
        @DefaultValue @Valid Presence presence) {

    public WorkerProperties {
        id = id == null || id.isBlank() ? generatedId() : id.trim();
        pool = pool == null || pool.isBlank() ? Topology.DEFAULT_POOL : pool.trim();
    }

    /** The id must be usable in queue names (checked at startup). */
    @AssertTrue(message = "worker.id must be 1-100 characters of A-Z, a-z, 0-9, '.', '_' and '-'")
    public boolean isIdValid() {
        return Topology.isValidWorkerId(id);
    }

    /** The pool name must be usable in queue names (checked at startup). */
    @AssertTrue(message = "worker.pool must be 1-64 characters of a-z, 0-9 and '-'")
    public boolean isPoolValid() {
        return Topology.isValidPool(pool);
    }

    /**
     * A job's outcome event (SUCCEEDED, FAILED, CANCELLED, REQUEUED) must be confirmed by the broker before the job
     * message is acknowledged. When the broker refuses it (a nack, e.g. while a quorum queue elects a leader) or
     * does not confirm it in time, the same event (same sequence number: a duplicate is a no-op for the gateway)
     * is sent again after a growing pause, for at most {@code retryFor}; only then is the job message dropped (the
     * scheduler, no longer hearing that this worker holds the job, hands it out again), so a broker that refuses
     * events never makes a worker re-run a job in a tight loop.
     *
     * <p>A SUCCEEDED event carries the job's images (base64 in the JSON: 4/3 of their size), and the broker refuses a
     * message above its {@code max_message_size} (RabbitMQ 4: 16 MiB by default; 3.x: 128 MiB). Images that add up
     * to more than {@code maxImageBytes} are not sent: the job fails with {@code IMAGES_TOO_LARGE} (acked, not run
     * again). The default, 10 MiB, makes an event of at most about 13.4 MiB: below 16 MiB with room for the rest of
     * the event. Raise it only together with the broker's limit (keep 4/3 x it + 1 MiB below).
     *
     * @param retryFor      how long the outcome is sent again before the job message is dropped
     * @param retryDelay    the first pause between two sends (doubled each time)
     * @param retryMaxDelay the longest pause between two sends
     * @param maxImageBytes most bytes of images (all of a job's images together, before base64) one outcome carries
     */
    public record Outcome(
            @DefaultValue("2m") @NotNull Duration retryFor,
            @DefaultValue("250ms") @NotNull Duration retryDelay,
            @DefaultValue("5s") @NotNull Duration retryMaxDelay,
            @DefaultValue("10MB") @NotNull DataSize maxImageBytes) {

        /** The default of {@code maxImageBytes}. */
        public static final DataSize DEFAULT_MAX_IMAGE_BYTES = DataSize.ofMegabytes(10);

        @ConstructorBinding
        public Outcome {}

        /** With the default {@code maxImageBytes} (for tests and tools). */
        public Outcome(Duration retryFor, Duration retryDelay, Duration retryMaxDelay) {
            this(retryFor, retryDelay, retryMaxDelay, DEFAULT_MAX_IMAGE_BYTES);
        }

        /** {@code maxImageBytes} must leave room for at least one small image. */
        @AssertTrue(message = "worker.outcome.max-image-bytes must be at least 1KB")
        public boolean isMaxImageBytesValid() {
            return maxImageBytes == null || maxImageBytes.toBytes() >= 1024;
        }
    }

    /**
     * Progress reporting while Forge generates.
     *
     * @param pollInterval      how often Forge's /progress is polled (on a second HTTP client)
     * @param minInterval       PROGRESS events are sent only when the percentage changed and at most this often
     * @param heartbeatInterval a HEARTBEAT event is sent this often while a job runs
     * @param previews          whether live previews are fetched and relayed
     * @param previewInterval   how often a preview image is fetched (other polls skip the image)
     */
    public record Progress(
            @DefaultValue("500ms") @NotNull Duration pollInterval,
            @DefaultValue("250ms") @NotNull Duration minInterval,
            @DefaultValue("10s") @NotNull Duration heartbeatInterval,
            @DefaultValue("true") boolean previews,
            @DefaultValue("2s") @NotNull Duration previewInterval) {}

    /**
     * Cancel commands for jobs that are not running here are remembered, so a later delivery is skipped.
     *
     * @param maxRemembered most job ids kept (the oldest are forgotten first)
     * @param rememberFor   how long one is kept
     */
    public record Cancel(
            @DefaultValue("10000") @Min(1) int maxRemembered,
            @DefaultValue("6h") @NotNull Duration rememberFor) {}

    /**
     * The worker's announcements ({@code WorkerStatus}) to every gateway: the scheduler gives jobs only to workers
     * it heard from recently, so the gateway's presence timeout must be a few intervals.
     *
     * @param interval        how often it announces itself (also at once when its state or the job it holds changes)
     * @param offerEvery      how often an announcement repeats what its Forge offers (sent at once when it changes)
     */
    public record Presence(
            @DefaultValue("1s") @NotNull Duration interval,
            @DefaultValue("30s") @NotNull Duration offerEvery) {}

    /** {@code <hostname>-<6 hex>}, lower case, only {@code [a-z0-9-]}. */
    static String generatedId() {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (Exception e) {
            host = System.getenv().getOrDefault("HOSTNAME", "worker");
        }
        String clean =
                host.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9-]+", "-").replaceAll("(^-+|-+$)", "");
        if (clean.isEmpty()) {
            clean = "worker";
        }
        if (clean.length() > 40) {
            clean = clean.substring(0, 40);
        }
        byte[] suffix = new byte[3];
        ThreadLocalRandom.current().nextBytes(suffix);
        return clean + "-" + HexFormat.of().formatHex(suffix);
    }
}
