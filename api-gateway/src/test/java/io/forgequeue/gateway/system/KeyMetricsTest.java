package io.forgequeue.gateway.system;

import static org.assertj.core.api.Assertions.assertThat;

import io.forgequeue.gateway.system.KeyMetrics.Load;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** Per-key meters: the busiest keys by name, everything else under "_other", never more series than the cap. */
class KeyMetricsTest {

    private static final int MAX_KEYS = 3;

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final KeyMetrics metrics = new KeyMetrics(registry, new MetricsProperties(20, MAX_KEYS));

    @Test
    void theOtherBucketIsRegisteredAtZeroBeforeAnyKeyIsSeen() {
        assertThat(keyTags(KeyMetrics.JOBS)).containsExactly(KeyMetrics.OTHER_KEY);
        assertThat(jobs(KeyMetrics.OTHER_KEY, "queued")).isZero();
        assertThat(jobs(KeyMetrics.OTHER_KEY, "running")).isZero();
        assertThat(gpuSeconds(KeyMetrics.OTHER_KEY)).isZero();
    }

    @Test
    void eachKeyBelowTheCapGetsItsOwnSeriesByName() {
        metrics.keyLoads(Map.of("team-a", new Load(5, 1), "team-b", new Load(0, 2)));

        assertThat(jobs("team-a", "queued")).isEqualTo(5.0);
        assertThat(jobs("team-a", "running")).isEqualTo(1.0);
        assertThat(jobs("team-b", "queued")).isZero();
        assertThat(jobs("team-b", "running")).isEqualTo(2.0);
        assertThat(jobs(KeyMetrics.OTHER_KEY, "queued")).isZero();
    }

    @Test
    void keysBeyondTheCapAreSummedUnderOtherAndTheBusiestKeysKeepTheirOwnSeries() {
        Map<String, Load> loads = new HashMap<>();
        for (int i = 1; i <= 50; i++) {
            loads.put("key-" + i, new Load(i, 1)); // key-50 is the busiest
        }

        metrics.keyLoads(loads);

        assertThat(keyTags(KeyMetrics.JOBS))
                .containsExactlyInAnyOrder("key-50", "key-49", "key-48", KeyMetrics.OTHER_KEY);
        assertThat(registry.find(KeyMetrics.JOBS).gauges()).hasSize(2 * (MAX_KEYS + 1));
        assertThat(registry.find(KeyMetrics.GPU_TIME).counters()).hasSize(MAX_KEYS + 1);
        long queuedOfTheRest = 47L * 48 / 2; // key-1 .. key-47
        assertThat(jobs(KeyMetrics.OTHER_KEY, "queued")).isEqualTo((double) queuedOfTheRest);
        assertThat(jobs(KeyMetrics.OTHER_KEY, "running")).isEqualTo(47.0);
        assertThat(totalOf("queued")).as("nothing is lost or counted twice").isEqualTo(50.0 * 51 / 2);
    }

    @Test
    void aKeyThatFallsIdleKeepsItsSeriesAtZeroUntilABusierKeyNeedsItsPlace() {
        metrics.keyLoads(Map.of("a", new Load(1, 0), "b", new Load(1, 0), "c", new Load(1, 0)));

        metrics.keyLoads(Map.of("a", new Load(2, 0)));
        Set<String> whileIdle = metrics.trackedKeys();
        metrics.keyLoads(Map.of("a", new Load(2, 0), "d", new Load(1, 0)));

        assertThat(whileIdle).containsExactlyInAnyOrder("a", "b", "c");
        assertThat(jobs("a", "queued")).isEqualTo(2.0);
        assertThat(metrics.trackedKeys())
                .as("d takes the place of an idle key")
                .hasSize(MAX_KEYS)
                .contains("a", "d");
        assertThat(keyTags(KeyMetrics.JOBS))
                .as("the displaced key's series are removed")
                .hasSize(MAX_KEYS + 1);
    }

    @Test
    void onATieTheKeysThatHaveSeriesKeepThem() {
        metrics.keyLoads(Map.of("x", new Load(1, 0), "y", new Load(1, 0), "z", new Load(1, 0)));

        metrics.keyLoads(Map.of("a", new Load(1, 0), "x", new Load(1, 0), "y", new Load(1, 0), "z", new Load(1, 0)));

        assertThat(metrics.trackedKeys()).containsExactlyInAnyOrder("x", "y", "z");
        assertThat(jobs(KeyMetrics.OTHER_KEY, "queued")).isEqualTo(1.0);
    }

    @Test
    void gpuTimeGoesToTheKeysOwnCounterWhileThereIsRoomAndToOtherBeyondTheCap() {
        metrics.keyLoads(Map.of("a", new Load(1, 0), "b", new Load(1, 0)));

        metrics.gpuTime("a", Duration.ofMillis(1500));
        metrics.gpuTime("fresh", Duration.ofSeconds(2)); // a job too short to be seen queued: the last free place
        metrics.gpuTime("late", Duration.ofSeconds(4));
        metrics.gpuTime(null, Duration.ofSeconds(8));
        metrics.gpuTime("a", Duration.ofSeconds(-1));

        assertThat(gpuSeconds("a")).isEqualTo(1.5);
        assertThat(gpuSeconds("fresh")).isEqualTo(2.0);
        assertThat(gpuSeconds(KeyMetrics.OTHER_KEY))
                .as("no room for 'late'; unknown key")
                .isEqualTo(12.0);
        assertThat(registry.find(KeyMetrics.GPU_TIME).counters()).hasSize(MAX_KEYS + 1);
    }

    @Test
    void aKeyNamedLikeTheOtherBucketCannotPassForIt() {
        Map<String, Load> loads = new LinkedHashMap<>();
        loads.put("_other", new Load(4, 0));
        loads.put(null, new Load(1, 0));

        metrics.keyLoads(loads);

        assertThat(jobs("key_other", "queued")).isEqualTo(4.0);
        assertThat(jobs(KeyMetrics.OTHER_KEY, "queued"))
                .as("the jobs of a key whose name is unknown")
                .isEqualTo(1.0);
        assertThat(KeyMetrics.tagOf("x".repeat(200))).hasSize(KeyMetrics.MAX_NAME_LENGTH);
    }

    @Test
    void keysWithTheSameNameShareTheirSeries() {
        Map<String, Load> loads = new HashMap<>();
        loads.put("shared", new Load(2, 1));
        loads.put(" shared ", new Load(3, 0));

        metrics.keyLoads(loads);

        assertThat(jobs("shared", "queued")).isEqualTo(5.0);
        assertThat(jobs("shared", "running")).isEqualTo(1.0);
    }

    private double jobs(String key, String state) {
        Gauge gauge = registry.find(KeyMetrics.JOBS)
                .tag("key", key)
                .tag("state", state)
                .gauge();
        assertThat(gauge).as("gauge %s %s", key, state).isNotNull();
        return gauge.value();
    }

    private double totalOf(String state) {
        return registry.find(KeyMetrics.JOBS).tag("state", state).gauges().stream()
                .mapToDouble(Gauge::value)
                .sum();
    }

    private double gpuSeconds(String key) {
        Counter counter = registry.find(KeyMetrics.GPU_TIME).tag("key", key).counter();
        assertThat(counter).as("GPU time counter of %s", key).isNotNull();
        return counter.count();
    }

    private Set<String> keyTags(String name) {
        return registry.find(name).meters().stream()
                .map(Meter::getId)
                .map(id -> id.getTag("key"))
                .collect(Collectors.toSet());
    }
}
