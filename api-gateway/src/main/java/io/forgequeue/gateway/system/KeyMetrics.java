package io.forgequeue.gateway.system;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.stereotype.Component;

/**
 * Per-key meters with bounded cardinality: queued and running jobs ({@value #JOBS}, tags {@code key} and
 * {@code state}) and GPU time of finished jobs ({@value #GPU_TIME}, tag {@code key}). The {@code key} tag is the API
 * key's name (chosen by the operator; never the secret, never its id).
 *
 * <p>At most {@link MetricsProperties#maxKeys()} keys have series of their own: after every
 * {@link #keyLoads(Map) load report} the keys with the most queued + running jobs keep or get them (on a tie a key
 * that has them keeps them); a key that has series keeps them while idle until a busier key needs its place. All
 * other keys are summed under {@value #OTHER_KEY}, registered at 0 from the start. A key that loses its series has
 * them removed (its GPU time counter starts again from 0 if it gets them back: Prometheus reads that as a counter
 * reset). A key name that begins with '_' is reported with the prefix {@code key} ({@code _x} becomes {@code key_x}),
 * so no key can pass for the {@value #OTHER_KEY} bucket.
 *
 * <p>The values are pushed by the features (the queue refresh, the event merge): a scrape reads numbers, never the
 * database. Thread-safe.
 */
@Component
public class KeyMetrics {

    /** The {@code key} tag of the keys without series of their own. */
    public static final String OTHER_KEY = "_other";

    static final String JOBS = "gpu.gateway.keys.jobs";
    static final String GPU_TIME = "gpu.gateway.keys.gpu.time";
    /** Longest key name used as a tag value; longer names are cut. */
    static final int MAX_NAME_LENGTH = 64;

    private final MeterRegistry registry;
    private final int maxKeys;
    private final KeyMeters other;
    /** The keys with series of their own, by tag value (guarded by this). */
    private final Map<String, KeyMeters> tracked = new HashMap<>();

    /** Queued and running jobs of one key (or of a group of keys). */
    public record Load(long queued, long running) {

        public Load {
            if (queued < 0 || running < 0) {
                throw new IllegalArgumentException("negative load: " + queued + "/" + running);
            }
        }

        long total() {
            return queued + running;
        }

        Load plus(Load other) {
            return new Load(queued + other.queued, running + other.running);
        }
    }

    /** With the default settings (tests, tools). */
    public KeyMetrics(MeterRegistry registry) {
        this(registry, MetricsProperties.defaults());
    }

    @Autowired
    public KeyMetrics(MeterRegistry registry, MetricsProperties properties) {
        this.registry = registry;
        this.maxKeys = properties.maxKeys();
        this.other = new KeyMeters(OTHER_KEY);
    }

    /**
     * The queued and running jobs of every key that has any, by key name (a key missing from the map has none; the
     * jobs of keys whose name is unknown, under a null name, count under {@value #OTHER_KEY}).
     * Decides which keys have series of their own and sets every per-key gauge.
     */
    public synchronized void keyLoads(Map<String, Load> byName) {
        Map<String, Load> loads = new HashMap<>();
        Load unknown = new Load(0, 0);
        for (Map.Entry<String, Load> e : byName.entrySet()) {
            if (e.getKey() == null) {
                unknown = unknown.plus(e.getValue());
            } else {
                loads.merge(tagOf(e.getKey()), e.getValue(), Load::plus);
            }
        }
        Set<String> candidates = new LinkedHashSet<>(tracked.keySet());
        loads.forEach((tag, load) -> {
            if (load.total() > 0) {
                candidates.add(tag);
            }
        });
        List<String> ranked = new ArrayList<>(candidates);
        ranked.sort(Comparator.comparingLong(
                        (String tag) -> -loads.getOrDefault(tag, new Load(0, 0)).total())
                .thenComparing(tag -> !tracked.containsKey(tag))
                .thenComparing(Comparator.naturalOrder()));
        Set<String> keep = new LinkedHashSet<>(ranked.subList(0, Math.min(maxKeys, ranked.size())));
        tracked.entrySet().removeIf(e -> {
            if (!keep.contains(e.getKey())) {
                e.getValue().remove();
                return true;
            }
            return false;
        });
        keep.forEach(this::meters);
        Load rest = unknown;
        for (Map.Entry<String, Load> e : loads.entrySet()) {
            if (!tracked.containsKey(e.getKey())) {
                rest = rest.plus(e.getValue());
            }
        }
        tracked.forEach((tag, meters) -> meters.set(loads.getOrDefault(tag, new Load(0, 0))));
        other.set(rest);
    }

    /**
     * GPU time of a finished job of the key with this name (null: unknown key). Counted under the key's own series
     * when it has them or there is room for them, else under {@value #OTHER_KEY}.
     */
    public synchronized void gpuTime(String name, Duration time) {
        if (time.isNegative()) {
            return;
        }
        KeyMeters meters = name == null ? other : tracked.get(tagOf(name));
        if (meters == null) {
            meters = tracked.size() < maxKeys ? meters(tagOf(name)) : other;
        }
        meters.gpuTime.increment(time.toNanos() / 1e9);
    }

    /** The key tags with series of their own now (tests). */
    synchronized Set<String> trackedKeys() {
        return Set.copyOf(tracked.keySet());
    }

    /**
     * The tag value of a (non-null) key name: the name, cut to {@value #MAX_NAME_LENGTH}, never starting with '_'
     * ({@code unnamed} for a blank one).
     */
    static String tagOf(String name) {
        if (name.isBlank()) {
            return "unnamed";
        }
        String tag = name.strip();
        if (tag.startsWith("_")) {
            tag = "key" + tag;
        }
        return tag.length() <= MAX_NAME_LENGTH ? tag : tag.substring(0, MAX_NAME_LENGTH);
    }

    private KeyMeters meters(String tag) {
        return tracked.computeIfAbsent(tag, KeyMeters::new);
    }

    /** The series of one key (or of {@value #OTHER_KEY}), registered at 0. */
    private final class KeyMeters {

        final AtomicLong queued = new AtomicLong();
        final AtomicLong running = new AtomicLong();
        final List<Meter> meters = new ArrayList<>();
        final Counter gpuTime;

        KeyMeters(String tag) {
            meters.add(Gauge.builder(JOBS, queued, AtomicLong::get)
                    .description("QUEUED jobs (waiting or assigned, not started) and RUNNING jobs of the API key, all "
                            + "pools; the busiest keys by name, the rest summed under " + OTHER_KEY)
                    .tag("key", tag)
                    .tag("state", "queued")
                    .register(registry));
            meters.add(Gauge.builder(JOBS, running, AtomicLong::get)
                    .description("QUEUED jobs (waiting or assigned, not started) and RUNNING jobs of the API key, all "
                            + "pools; the busiest keys by name, the rest summed under " + OTHER_KEY)
                    .tag("key", tag)
                    .tag("state", "running")
                    .register(registry));
            gpuTime = Counter.builder(GPU_TIME)
                    .baseUnit("seconds")
                    .description("GPU time (start of the last attempt to the outcome) of the API key's finished jobs")
                    .tag("key", tag)
                    .register(registry);
            meters.add(gpuTime);
        }

        void set(Load load) {
            queued.set(load.queued());
            running.set(load.running());
        }

        void remove() {
            meters.forEach(registry::remove);
        }
    }
}
