package io.forgequeue.gateway.system;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.springframework.stereotype.Component;

/**
 * The data lifecycle's meters ({@code gpu.gateway.retention.*}, catalogue: docs/metrics.md): what this gateway erased,
 * by trigger ({@value #OWNER}: the erase API, {@value #RETENTION}: the retention sweep), and what the database holds
 * (pushed by the retention feature's periodic count, never read by a scrape). Every series is registered at 0 from
 * the start. Thread-safe.
 */
@Component
public class RetentionMetrics {

    /** The {@code trigger} tag of erasures its owner asked for. */
    public static final String OWNER = "owner";
    /** The {@code trigger} tag of erasures of the retention sweep. */
    public static final String RETENTION = "retention";

    static final List<String> TRIGGERS = List.of(OWNER, RETENTION);

    static final String ERASED_JOBS = "gpu.gateway.retention.erased.jobs";
    static final String ERASED_IMAGES = "gpu.gateway.retention.erased.images";
    static final String ERASED_BYTES = "gpu.gateway.retention.erased.bytes";
    static final String STORED_JOBS = "gpu.gateway.retention.stored.jobs";
    static final String STORED_IMAGES = "gpu.gateway.retention.stored.images";
    static final String STORED_BYTES = "gpu.gateway.retention.stored.bytes";
    static final String DUE_JOBS = "gpu.gateway.retention.due.jobs";

    private final Map<String, Counter> erasedJobs;
    private final Map<String, Counter> erasedImages;
    private final Map<String, Counter> erasedBytes;
    private final AtomicLong storedJobs = new AtomicLong();
    private final AtomicLong storedImages = new AtomicLong();
    private final AtomicLong storedBytes = new AtomicLong();
    private final AtomicLong dueJobs = new AtomicLong();

    public RetentionMetrics(MeterRegistry registry) {
        erasedJobs = byTrigger(t -> Counter.builder(ERASED_JOBS)
                .tag("trigger", t)
                .description("Finished jobs whose prompts, images and prompt-bearing metadata this gateway erased")
                .register(registry));
        erasedImages = byTrigger(t -> Counter.builder(ERASED_IMAGES)
                .tag("trigger", t)
                .description("Result images this gateway deleted with their jobs' data")
                .register(registry));
        erasedBytes = byTrigger(t -> Counter.builder(ERASED_BYTES)
                .tag("trigger", t)
                .baseUnit("bytes")
                .description("Bytes of the result images this gateway deleted")
                .register(registry));
        Gauge.builder(STORED_JOBS, storedJobs, AtomicLong::get)
                .description("Finished jobs that still hold their prompts and images (not erased)")
                .register(registry);
        Gauge.builder(STORED_IMAGES, storedImages, AtomicLong::get)
                .description("Result images stored in the database")
                .register(registry);
        Gauge.builder(STORED_BYTES, storedBytes, AtomicLong::get)
                .baseUnit("bytes")
                .description("Bytes of the result images stored in the database (image data, without the "
                        + "database's own overhead)")
                .register(registry);
        Gauge.builder(DUE_JOBS, dueJobs, AtomicLong::get)
                .description("Finished jobs older than the retention time that still hold their data (the sweep's "
                        + "backlog; 0 when retention is off)")
                .register(registry);
    }

    /** This gateway erased the data of {@code jobs} jobs, deleting {@code images} images of {@code bytes} bytes. */
    public void erased(String trigger, long jobs, long images, long bytes) {
        if (!TRIGGERS.contains(trigger)) {
            throw new IllegalArgumentException("unknown trigger " + trigger);
        }
        erasedJobs.get(trigger).increment(jobs);
        erasedImages.get(trigger).increment(images);
        erasedBytes.get(trigger).increment(bytes);
    }

    /** What the database holds now (from the retention feature's periodic count). */
    public void stored(long jobs, long images, long bytes, long due) {
        storedJobs.set(jobs);
        storedImages.set(images);
        storedBytes.set(bytes);
        dueJobs.set(due);
    }

    private static Map<String, Counter> byTrigger(Function<String, Counter> counter) {
        return TRIGGERS.stream().collect(Collectors.toUnmodifiableMap(Function.identity(), counter));
    }
}
