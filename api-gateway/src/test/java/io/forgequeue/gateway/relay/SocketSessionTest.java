package io.forgequeue.gateway.relay;

import static org.assertj.core.api.Assertions.assertThat;

import io.forgequeue.gateway.job.JobView;
import io.forgequeue.gateway.system.GatewayMetrics;
import io.forgequeue.model.JobStatus;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.lang.reflect.Proxy;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.springframework.web.socket.TextMessage;
import org.springframework.web.socket.WebSocketSession;
import tools.jackson.databind.json.JsonMapper;

/** How a session queues frames for a client that reads slower than the queue moves (issue 8, fan-out). */
class SocketSessionTest {

    private final Frames frames = new Frames(JsonMapper.builder().build(), null);
    private final UUID jobId = UUID.randomUUID();

    /** Runs the sender tasks only when told to: the client is "slow" until then. */
    private static final class HeldSenders implements Executor {
        private final List<Runnable> tasks = new ArrayList<>();

        @Override
        public void execute(Runnable task) {
            tasks.add(task);
        }

        void runAll() {
            while (!tasks.isEmpty()) {
                tasks.remove(0).run();
            }
        }
    }

    /** A WebSocket connection that records what is written to it. */
    private static WebSocketSession recording(List<String> sent) {
        return (WebSocketSession) Proxy.newProxyInstance(
                SocketSessionTest.class.getClassLoader(),
                new Class<?>[] {WebSocketSession.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "isOpen" -> true;
                    case "getId" -> "s1";
                    case "getAttributes" -> Map.of();
                    case "sendMessage" -> {
                        sent.add(((TextMessage) args[0]).getPayload());
                        yield null;
                    }
                    default -> null;
                });
    }

    private JobView queued(long version) {
        return new JobView(
                jobId,
                JobStatus.QUEUED,
                "default",
                7,
                null,
                null,
                0,
                0,
                null,
                List.of(),
                null,
                Map.of(),
                false,
                Instant.parse("2026-11-22T12:00:00Z"),
                null,
                null,
                version,
                null,
                null,
                null,
                null);
    }

    @Test
    void aSlowClientGetsOnlyTheNewestPositionOfAJobNotEveryPositionInBetween() {
        List<String> sent = new ArrayList<>();
        HeldSenders senders = new HeldSenders();
        SocketSession session = new SocketSession(recording(sent), senders, 1000);
        session.update(queued(1), true, frames);

        session.position(jobId, 5, v -> "pos5@" + v);
        session.position(jobId, 4, v -> "pos4@" + v);
        session.position(jobId, 3, v -> "pos3@" + v);
        senders.runAll();

        assertThat(sent).hasSize(2);
        assertThat(sent.get(0)).contains("\"type\":\"update\"");
        assertThat(sent.get(1)).isEqualTo("pos3@1");
    }

    @Test
    void aPositionAlreadyWrittenIsFollowedByTheNewOneNotReplaced() {
        List<String> sent = new ArrayList<>();
        HeldSenders senders = new HeldSenders();
        SocketSession session = new SocketSession(recording(sent), senders, 1000);
        session.update(queued(1), true, frames);

        session.position(jobId, 5, v -> "pos5@" + v);
        senders.runAll();
        session.position(jobId, 4, v -> "pos4@" + v);
        senders.runAll();

        assertThat(sent).endsWith("pos5@1", "pos4@1");
    }

    @Test
    void aPositionOfANewerVersionQueuesBehindItsUpdateInsteadOfReplacingTheOlderPosition() {
        List<String> sent = new ArrayList<>();
        HeldSenders senders = new HeldSenders();
        SocketSession session = new SocketSession(recording(sent), senders, 1000);
        session.update(queued(1), true, frames);

        session.position(jobId, 5, v -> "pos5@" + v);
        session.update(queued(2), true, frames);
        session.position(jobId, 4, v -> "pos4@" + v);
        senders.runAll();

        assertThat(sent).hasSize(4);
        assertThat(sent.get(1)).isEqualTo("pos5@1");
        assertThat(sent.get(2)).contains("\"version\":2");
        assertThat(sent.get(3)).isEqualTo("pos4@2");
    }

    @Test
    void anUpdateForManySessionsIsEncodedOnce() {
        AtomicInteger encodings = new AtomicInteger();
        EncodedUpdate encoded = new EncodedUpdate(() -> {
            encodings.incrementAndGet();
            return frames.update(queued(1));
        });
        List<String> sent = new ArrayList<>();
        HeldSenders senders = new HeldSenders();
        List<SocketSession> sessions = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            sessions.add(new SocketSession(recording(sent), senders, 1000));
        }

        sessions.forEach(s -> s.update(queued(1), true, encoded));
        senders.runAll();

        assertThat(sent).hasSize(50).allMatch(f -> f.equals(sent.get(0)));
        assertThat(encodings).hasValue(1);
    }

    /** A WebSocket connection that records frames and the close, in the order they happen. */
    private static WebSocketSession recordingWithClose(List<String> events) {
        boolean[] open = {true};
        return (WebSocketSession) Proxy.newProxyInstance(
                SocketSessionTest.class.getClassLoader(),
                new Class<?>[] {WebSocketSession.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "isOpen" -> open[0];
                    case "getId" -> "s2";
                    case "getAttributes" -> Map.of();
                    case "sendMessage" -> {
                        events.add(((TextMessage) args[0]).getPayload());
                        yield null;
                    }
                    case "close" -> {
                        open[0] = false;
                        events.add("close "
                                + (args == null || args.length == 0
                                        ? 1000
                                        : ((org.springframework.web.socket.CloseStatus) args[0]).getCode()));
                        yield null;
                    }
                    default -> null;
                });
    }

    @Test
    void anErrorFrameQueuedBeforeACloseIsWrittenBeforeTheCloseAndNothingAfterIt() {
        List<String> events = new ArrayList<>();
        HeldSenders senders = new HeldSenders();
        SocketSession session = new SocketSession(recordingWithClose(events), senders, 1000);

        session.send(frames.error("unauthorized", "The API key is not valid.", null));
        session.closeAfterPending(JobSocketHandler.UNAUTHORIZED);
        session.send("{\"type\":\"late\"}");
        senders.runAll();

        assertThat(events).hasSize(2);
        assertThat(events.get(0)).contains("\"code\":\"unauthorized\"");
        assertThat(events.get(1)).isEqualTo("close 4401");
    }

    @Test
    void aCloseAfterPendingWaitsForASenderThatIsStillWritingEarlierFrames() {
        List<String> events = new ArrayList<>();
        HeldSenders senders = new HeldSenders();
        SocketSession session = new SocketSession(recordingWithClose(events), senders, 1000);
        session.update(queued(1), true, frames);
        session.position(jobId, 3, v -> "pos3@" + v);

        session.send(frames.error("auth-timeout", "Send an auth frame first.", null));
        session.closeAfterPending(JobSocketHandler.AUTH_TIMEOUT);
        assertThat(events).isEmpty(); // nothing written, and above all not closed, before the sender runs
        senders.runAll();

        assertThat(events).hasSize(4);
        assertThat(events.get(1)).isEqualTo("pos3@1");
        assertThat(events.get(2)).contains("\"code\":\"auth-timeout\"");
        assertThat(events.get(3)).isEqualTo("close 4408");
    }

    @Test
    void positionsReplacedInPlaceDoNotCountTowardsTheSlowClientLimit() {
        List<String> events = new ArrayList<>();
        HeldSenders senders = new HeldSenders();
        SocketSession session = new SocketSession(recordingWithClose(events), senders, 3);
        session.update(queued(1), true, frames);

        for (int position = 100; position > 0; position--) {
            int p = position;
            session.position(jobId, p, v -> "pos" + p + "@" + v);
        }
        senders.runAll();

        assertThat(events)
                .as("one update and the newest position; never closed as too slow")
                .hasSize(2)
                .noneMatch(e -> e.startsWith("close"));
        assertThat(events.get(1)).isEqualTo("pos1@1");
    }

    @Test
    void anUpdateNoSessionTakesIsNeverEncoded() {
        AtomicInteger encodings = new AtomicInteger();
        List<String> sent = new ArrayList<>();
        HeldSenders senders = new HeldSenders();
        SocketSession session = new SocketSession(recording(sent), senders, 1000);
        session.update(queued(2), true, frames);

        boolean pushed = session.update(queued(2), true, new EncodedUpdate(() -> {
            encodings.incrementAndGet();
            return frames.update(queued(2));
        }));

        assertThat(pushed).as("same version: dropped").isFalse();
        assertThat(encodings).hasValue(0);
    }

    private JobView finished(long version) {
        return new JobView(
                jobId,
                JobStatus.SUCCEEDED,
                "default",
                7,
                null,
                null,
                0,
                0,
                null,
                List.of(),
                null,
                Map.of(),
                false,
                Instant.parse("2026-11-22T12:00:00Z"),
                null,
                null,
                version,
                null,
                null,
                null,
                null);
    }

    @Test
    void anAllJobsSessionForgetsAFinishedJobItNeverSubscribedToOnceItsGraceHasPassed() {
        SocketRegistry registry = new SocketRegistry(new GatewayMetrics(new SimpleMeterRegistry()));
        SocketSession session = new SocketSession(recording(new ArrayList<>()), new HeldSenders(), 1000);
        registry.add(session);
        session.update(queued(1), true, frames);
        registry.index(session, jobId);
        session.update(finished(2), true, frames);
        long sentFinishedBy = System.nanoTime();

        int keptWithinGrace = registry.forgetFinishedAutoWatches(sentFinishedBy - 1_000_000_000L);
        assertThat(keptWithinGrace).isZero();
        assertThat(session.watches(jobId)).isTrue();

        int forgotten = registry.forgetFinishedAutoWatches(sentFinishedBy + 1);

        assertThat(forgotten).isOne();
        assertThat(session.watches(jobId)).isFalse();
        assertThat(registry.watching(jobId)).doesNotContain(session);
    }

    @Test
    void aFinishedJobSubscribedToByIdAndAnUnfinishedAutoWatchedJobAreKept() {
        SocketSession session = new SocketSession(recording(new ArrayList<>()), new HeldSenders(), 1000);
        session.watch(jobId);
        session.snapshot(finished(2), null, frames);
        UUID running = UUID.randomUUID();
        session.update(
                new JobView(
                        running,
                        JobStatus.RUNNING,
                        "default",
                        7,
                        null,
                        null,
                        0,
                        0,
                        null,
                        List.of(),
                        null,
                        Map.of(),
                        false,
                        Instant.parse("2026-11-22T12:00:00Z"),
                        null,
                        null,
                        3,
                        null,
                        null,
                        null,
                        null),
                true,
                frames);

        List<UUID> forgotten = session.forgetFinishedAutoWatches(System.nanoTime() + 1);

        assertThat(forgotten).isEmpty();
        assertThat(session.watchedJobs()).containsExactlyInAnyOrder(jobId, running);
    }
}
