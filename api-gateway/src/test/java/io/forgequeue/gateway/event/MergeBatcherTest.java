package io.forgequeue.gateway.event;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.rabbitmq.client.Channel;
import io.forgequeue.gateway.job.EventMoves;
import io.forgequeue.gateway.quota.Priority;
import io.forgequeue.gateway.quota.QuotaProperties;
import io.forgequeue.gateway.system.GatewayMetrics;
import io.forgequeue.model.JobEvent;
import io.forgequeue.model.JobHeartbeat;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.lang.reflect.Proxy;
import java.sql.SQLTransientConnectionException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.dao.DataAccessResourceFailureException;
import org.springframework.dao.DataIntegrityViolationException;
import org.springframework.transaction.CannotCreateTransactionException;

/**
 * The merge batching of the persist-queue consumer (issue 8): batches, acks only after the merge, one multiple-ack,
 * row-lock order, and what happens to each event of a batch that fails. The broker channel and the merge are
 * recording stand-ins; the merge statement itself is covered by {@code EventMergeIT} against PostgreSQL.
 */
class MergeBatcherTest {

    /** What happened, in order: merges ("merge-all [...]", "merge ...") and settlements ("ack 3 multiple", ...). */
    private final List<String> log = new CopyOnWriteArrayList<>();

    private final GatewayMetrics metrics = new GatewayMetrics(new SimpleMeterRegistry());
    private MergeBatcher batcher;

    /** A merge that records what it was asked, can be held (to let a batch build up) and made to fail. */
    private final class FakeMerger extends EventMerger {
        final CountDownLatch release = new CountDownLatch(1);
        final CountDownLatch entered = new CountDownLatch(1);
        volatile boolean hold;
        volatile Predicate<List<JobEvent>> batchFails = batch -> false;
        volatile Predicate<JobEvent> unavailable = e -> false;
        volatile Supplier<RuntimeException> outage = () -> new DataAccessResourceFailureException("database down");
        volatile Predicate<JobEvent> broken = e -> false;

        FakeMerger() {
            super(null, metrics, null, null, null, new QuotaProperties(50, 0, 1.0, Priority.NORMAL), null);
        }

        @Override
        List<Result> mergeAll(List<EventMoves.Published> published) {
            List<JobEvent> batch =
                    published.stream().map(EventMoves.Published::event).toList();
            entered.countDown();
            awaitRelease();
            if (batchFails.test(batch)) {
                log.add("merge-all failed " + names(batch));
                throw new DataIntegrityViolationException("batch failed");
            }
            log.add("merge-all " + names(batch));
            return batch.stream()
                    .map(e -> new Result(Outcome.APPLIED, null, 1, null))
                    .toList();
        }

        @Override
        Result merge(JobEvent event, String publisher) {
            entered.countDown();
            awaitRelease();
            if (unavailable.test(event)) {
                log.add("merge unavailable " + name(event));
                throw outage.get();
            }
            if (broken.test(event)) {
                log.add("merge broken " + name(event));
                throw new DataIntegrityViolationException("bad event");
            }
            log.add("merge " + name(event));
            return new Result(Outcome.APPLIED, null, 1, null);
        }

        private void awaitRelease() {
            if (hold) {
                try {
                    release.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    /** A broker channel that records acks and nacks. */
    private Channel channel(String name) {
        return (Channel) Proxy.newProxyInstance(
                getClass().getClassLoader(),
                new Class<?>[] {Channel.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "basicAck" -> {
                        log.add(name + " ack " + args[0] + ((boolean) args[1] ? " multiple" : ""));
                        yield null;
                    }
                    case "basicNack" -> {
                        log.add(name + " nack " + args[0] + ((boolean) args[2] ? " requeue" : " drop"));
                        yield null;
                    }
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    case "toString" -> name;
                    default -> null;
                });
    }

    /** Job ids whose order is known: "a" sorts before "b" before "c". */
    private static final UUID A = UUID.fromString("00000000-0000-0000-0000-00000000000a");

    private static final UUID B = UUID.fromString("00000000-0000-0000-0000-00000000000b");
    private static final UUID C = UUID.fromString("00000000-0000-0000-0000-00000000000c");

    private static JobEvent event(UUID job, long seq) {
        return new JobHeartbeat(job, 1, "gpu-1", seq, Instant.parse("2026-11-22T12:00:00Z"));
    }

    private static String name(JobEvent e) {
        return Long.toHexString(e.jobId().getLeastSignificantBits()) + e.seq();
    }

    private static List<String> names(List<JobEvent> batch) {
        return batch.stream().map(MergeBatcherTest::name).toList();
    }

    private MergeBatcher start(FakeMerger merger, int consumers, int maxBatch) {
        batcher = new MergeBatcher(merger, metrics, new EventProperties(consumers, true, maxBatch));
        batcher.start();
        return batcher;
    }

    @AfterEach
    void stop() {
        if (batcher != null) {
            batcher.stop();
        }
    }

    /** A job whose events sort before all others. */
    private static final UUID BLOCKER = UUID.fromString("00000000-0000-0000-0000-000000000001");

    /**
     * Makes the lane busy with a first event (its merge held until {@code merger.release}), so that what is submitted
     * next arrives while a batch is being merged. Its own log lines are left out of {@link #logWithoutBlocker}.
     */
    private void busyLane(MergeBatcher batcher, FakeMerger merger) throws InterruptedException {
        merger.hold = true;
        batcher.submit(new MergeBatcher.Delivery(event(BLOCKER, 99), null, channel("blk"), 1));
        assertThat(merger.entered.await(5, TimeUnit.SECONDS)).isTrue();
    }

    private List<String> logWithoutBlocker() {
        return log.stream()
                .filter(s -> !s.startsWith("blk") && !s.equals("merge-all [199]") && !s.equals("merge 199"))
                .toList();
    }

    private void awaitLog(Predicate<List<String>> done) {
        await().atMost(Duration.ofSeconds(5)).until(() -> done.test(List.copyOf(log)));
    }

    @Test
    void eventsThatArriveWhileABatchIsMergedAreMergedTogetherThenAckedOnceAfterTheMerge() throws Exception {
        FakeMerger merger = new FakeMerger();
        MergeBatcher batcher = start(merger, 1, 100);
        Channel ch = channel("ch");
        merger.hold = true;
        batcher.submit(new MergeBatcher.Delivery(event(A, 1), null, ch, 1));
        assertThat(merger.entered.await(5, TimeUnit.SECONDS)).isTrue();

        batcher.submit(new MergeBatcher.Delivery(event(C, 1), null, ch, 2));
        batcher.submit(new MergeBatcher.Delivery(event(B, 1), null, ch, 3));
        batcher.submit(new MergeBatcher.Delivery(event(A, 2), null, ch, 4));
        assertThat(log).as("nothing is acked before its merge committed").isEmpty();
        merger.release.countDown();

        awaitLog(l -> l.contains("ch ack 4 multiple"));
        assertThat(log)
                .containsExactly(
                        // a lone event: one statement in autocommit, a single ack
                        "merge a1", "ch ack 1",
                        // sorted by job (same lock order as every other batch), each job's events kept in arrival order
                        "merge-all [a2, b1, c1]", "ch ack 4 multiple");
    }

    @Test
    void aBatchIsNeverLargerThanTheLimit() throws Exception {
        FakeMerger merger = new FakeMerger();
        MergeBatcher batcher = start(merger, 1, 2);
        Channel ch = channel("ch");
        busyLane(batcher, merger);

        for (int tag = 1; tag <= 5; tag++) {
            batcher.submit(new MergeBatcher.Delivery(event(A, tag), null, ch, tag));
        }
        merger.release.countDown();

        awaitLog(l -> l.contains("ch ack 5"));
        assertThat(logWithoutBlocker())
                .containsExactly(
                        "merge-all [a1, a2]",
                        "ch ack 2 multiple",
                        "merge-all [a3, a4]",
                        "ch ack 4 multiple",
                        "merge a5",
                        "ch ack 5");
    }

    @Test
    void whenABatchFailsEachEventIsMergedAloneAndOnlyTheBrokenOneIsDropped() throws Exception {
        FakeMerger merger = new FakeMerger();
        merger.batchFails = batch -> batch.size() > 1;
        merger.broken = e -> e.jobId().equals(B);
        MergeBatcher batcher = start(merger, 1, 100);
        Channel ch = channel("ch");
        busyLane(batcher, merger);

        batcher.submit(new MergeBatcher.Delivery(event(C, 1), null, ch, 1));
        batcher.submit(new MergeBatcher.Delivery(event(B, 1), null, ch, 2));
        batcher.submit(new MergeBatcher.Delivery(event(A, 1), null, ch, 3));
        merger.release.countDown();

        awaitLog(l -> l.contains("ch ack 1"));
        assertThat(logWithoutBlocker())
                .containsExactly(
                        "merge-all failed [a1, b1, c1]",
                        "merge a1",
                        "ch ack 3",
                        "merge broken b1",
                        "ch nack 2 drop",
                        "merge c1",
                        "ch ack 1");
    }

    @Test
    void whenTheDatabaseIsUnreachableTheEventAndTheRestOfItsBatchGoBackToTheQueue() throws Exception {
        FakeMerger merger = new FakeMerger();
        merger.batchFails = batch -> batch.size() > 1;
        merger.unavailable = e -> e.jobId().equals(B);
        MergeBatcher batcher = start(merger, 1, 100);
        Channel ch = channel("ch");
        busyLane(batcher, merger);

        batcher.submit(new MergeBatcher.Delivery(event(A, 1), null, ch, 1));
        batcher.submit(new MergeBatcher.Delivery(event(B, 1), null, ch, 2));
        batcher.submit(new MergeBatcher.Delivery(event(C, 1), null, ch, 3));
        merger.release.countDown();

        awaitLog(l -> l.contains("ch nack 3 requeue"));
        assertThat(logWithoutBlocker())
                .containsExactly(
                        "merge-all failed [a1, b1, c1]",
                        "merge a1",
                        "ch ack 1",
                        "merge unavailable b1",
                        "ch nack 2 requeue",
                        "ch nack 3 requeue");
    }

    // Bug regression (reliability scenario 4 after merges became transactions): a connection that died around the
    // merge's transaction threw CannotCreateTransactionException, not a DataAccessException, and the event was dropped
    @Test
    void anEventWhoseTransactionCannotBeginForLackOfAConnectionGoesBackToTheQueue() throws Exception {
        FakeMerger merger = new FakeMerger();
        merger.unavailable = e -> true;
        merger.outage = () -> new CannotCreateTransactionException(
                "Could not open JDBC Connection for transaction",
                new SQLTransientConnectionException("Connection is not available, request timed out"));
        MergeBatcher batcher = start(merger, 1, 100);
        Channel ch = channel("ch");

        batcher.submit(new MergeBatcher.Delivery(event(A, 1), null, ch, 1));

        awaitLog(l -> l.contains("ch nack 1 requeue") || l.contains("ch nack 1 drop"));
        assertThat(log).containsExactly("merge unavailable a1", "ch nack 1 requeue");
    }

    @Test
    void eachConsumerKeepsItsOwnLaneSoAMultipleAckNeverCoversAnotherChannelsDeliveries() throws Exception {
        FakeMerger merger = new FakeMerger();
        MergeBatcher batcher = start(merger, 2, 100);
        Channel one = channel("one");
        Channel two = channel("two");
        Set<String> lanes = Collections.synchronizedSet(new java.util.HashSet<>());
        List<Thread> consumers = new ArrayList<>();
        for (Channel ch : List.of(one, two)) {
            consumers.add(new Thread(() -> {
                for (int tag = 1; tag <= 50; tag++) {
                    batcher.submit(new MergeBatcher.Delivery(event(tag % 2 == 0 ? A : B, tag), null, ch, tag));
                }
                lanes.add(Thread.currentThread().getName());
            }));
        }
        consumers.forEach(Thread::start);
        for (Thread t : consumers) {
            t.join();
        }

        awaitLog(l -> l.stream().anyMatch(s -> s.startsWith("one ack 50"))
                && l.stream().anyMatch(s -> s.startsWith("two ack 50")));
        for (String ch : List.of("one", "two")) {
            List<Long> acked = log.stream()
                    .filter(s -> s.startsWith(ch + " ack "))
                    .map(s -> Long.parseLong(s.split(" ")[2]))
                    .toList();
            assertThat(acked).as("acks of %s rise", ch).isSorted();
        }
        assertThat(log).noneMatch(s -> s.contains("nack"));
        long merged = log.stream()
                .filter(s -> s.startsWith("merge"))
                .mapToLong(s -> s.split(",").length)
                .sum();
        assertThat(merged).as("every delivery merged exactly once").isEqualTo(100);
    }

    @Test
    void stoppingMergesWhatWasHandedOverAlready() {
        FakeMerger merger = new FakeMerger();
        MergeBatcher batcher = start(merger, 1, 100);
        Channel ch = channel("ch");
        for (int tag = 1; tag <= 20; tag++) {
            batcher.submit(new MergeBatcher.Delivery(event(A, tag), null, ch, tag));
        }

        batcher.stop();

        assertThat(log).anyMatch(s -> s.startsWith("ch ack 20"));
        assertThat(log.stream()
                        .filter(s -> s.startsWith("merge"))
                        .mapToLong(s -> s.split(",").length)
                        .sum())
                .isEqualTo(20);
    }
}
