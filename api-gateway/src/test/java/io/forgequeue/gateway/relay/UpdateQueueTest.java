package io.forgequeue.gateway.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.forgequeue.gateway.system.GatewayMetrics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** The relay's backlog: what does not fit is dropped, counted and logged, never silently (issue 15). */
class UpdateQueueTest {

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final GatewayMetrics metrics = new GatewayMetrics(registry);
    private final AtomicLong nanos = new AtomicLong(1_000);
    private final ListAppender<ILoggingEvent> logged = new ListAppender<>();
    private final Logger logger = (Logger) LoggerFactory.getLogger(UpdateQueue.class);
    private final CountDownLatch release = new CountDownLatch(1);
    private final UpdateQueue queue = new UpdateQueue(2, metrics, nanos::get);

    UpdateQueueTest() {
        logged.start();
        queue.start(new io.micrometer.core.instrument.simple.SimpleMeterRegistry());
        logger.addAppender(logged);
    }

    @AfterEach
    void stop() {
        release.countDown();
        queue.stop();
        logger.detachAppender(logged);
    }

    /** Occupies the sending thread until {@link #release} opens. */
    private void blockTheSender() throws InterruptedException {
        CountDownLatch running = new CountDownLatch(1);
        queue.submit(() -> {
            running.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        assertThat(running.await(10, TimeUnit.SECONDS)).isTrue();
    }

    private double dropped() {
        return registry.get("gpu.gateway.websocket.updates.dropped").counter().count();
    }

    private List<String> warnings() {
        return logged.list.stream()
                .filter(e -> e.getLevel() == Level.WARN)
                .map(ILoggingEvent::getFormattedMessage)
                .toList();
    }

    @Test
    void updatesBeyondTheBacklogAreDroppedCountedAndLoggedAtMostOncePerInterval() throws InterruptedException {
        List<String> sent = new CopyOnWriteArrayList<>();
        blockTheSender();
        queue.submit(() -> sent.add("first"));
        queue.submit(() -> sent.add("second"));

        for (int i = 0; i < 5; i++) {
            queue.submit(() -> sent.add("beyond the backlog"));
        }
        List<String> withinTheInterval = warnings();
        nanos.addAndGet(UpdateQueue.LOG_INTERVAL.toNanos());
        queue.submit(() -> sent.add("beyond the backlog, a minute later"));
        release.countDown();

        assertThat(dropped()).isEqualTo(6.0);
        assertThat(withinTheInterval).hasSize(1);
        assertThat(withinTheInterval.get(0))
                .startsWith("1 job update(s) dropped")
                .contains("backlog of 2 (gateway.websocket.max-pending-updates)");
        assertThat(warnings()).hasSize(2);
        assertThat(warnings().get(1)).as("the drops since the last line").startsWith("5 job update(s) dropped");
        await().atMost(Duration.ofSeconds(10)).until(() -> sent.size() == 2);
        assertThat(sent).containsExactly("first", "second");
    }

    @Test
    void aBacklogWithRoomDropsNothing() throws InterruptedException {
        List<String> sent = new CopyOnWriteArrayList<>();
        blockTheSender();

        queue.submit(() -> sent.add("first"));
        queue.submit(() -> sent.add("second"));
        release.countDown();

        await().atMost(Duration.ofSeconds(10)).until(() -> sent.size() == 2);
        assertThat(dropped()).isZero();
        assertThat(warnings()).isEmpty();
    }

    @Test
    void updatesAfterTheStopAreNotCountedAsDropped() {
        queue.stop();

        queue.submit(() -> {});

        assertThat(dropped()).isZero();
        assertThat(warnings()).isEmpty();
    }
}
