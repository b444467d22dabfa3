package io.forgequeue.gateway.fleet;

import static org.assertj.core.api.Assertions.assertThat;

import io.forgequeue.model.WorkerState;
import io.forgequeue.model.WorkerStatus;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The fleet as the gateways see it from the workers' announcements, on a clock the test moves. */
class WorkerDirectoryTest {

    private static final long SECOND = 1_000_000_000L;
    private static final String FORGE = "http://forge-1:7860";

    private final AtomicLong now = new AtomicLong(100 * SECOND);
    private final WorkerDirectory directory =
            new WorkerDirectory(new FleetProperties(Duration.ofSeconds(5), Duration.ofMinutes(10)), now::get);
    private final AtomicInteger changes = new AtomicInteger();

    {
        directory.onChange(changes::incrementAndGet);
    }

    /** Announcements of one worker process, with growing sequence numbers. */
    private static final class Announcer {
        final String id;
        final UUID instance = UUID.randomUUID();
        final String pool;
        long seq;

        Announcer(String id, String pool) {
            this.id = id;
            this.pool = pool;
        }

        WorkerStatus status(WorkerState state, WorkerStatus.Assignment running, WorkerStatus.ForgeOffer offer) {
            return new WorkerStatus(id, instance, pool, state, ++seq, running, offer, 1000, Instant.now());
        }

        WorkerStatus ready() {
            return status(WorkerState.READY, null, null);
        }
    }

    private static WorkerStatus.ForgeOffer offer(String identity, List<String> checkpoints, List<String> samplers) {
        return new WorkerStatus.ForgeOffer(identity, checkpoints, samplers, List.of(), null, Map.of(), null);
    }

    private FleetWorker get(String id) {
        return directory.get(id).orElseThrow();
    }

    /** The scheduler checks every assignment at once when the standings move, so they must move only for these. */
    @Test
    void theStandingsMoveWhenAWorkerJoinsChangesStateFallsSilentOrRestartsNotWhenItReportsOtherJobs() {
        Announcer w1 = new Announcer("w1", "default");
        long start = directory.standings();

        directory.accept(w1.ready());
        long joined = directory.standings();
        directory.accept(w1.status(WorkerState.READY, new WorkerStatus.Assignment(UUID.randomUUID(), 1), null));
        directory.accept(w1.ready());
        long reported = directory.standings();
        directory.accept(w1.status(WorkerState.PAUSED, null, null));
        directory.expire(); // every second in production: it sees the worker alive
        long paused = directory.standings();
        now.addAndGet(6 * SECOND);
        directory.expire();
        long silent = directory.standings();
        directory.accept(new Announcer("w1", "default").ready());
        long restarted = directory.standings();

        assertThat(joined).isGreaterThan(start);
        assertThat(reported).as("only other jobs reported").isEqualTo(joined);
        assertThat(paused).isGreaterThan(reported);
        assertThat(silent)
                .as("past the presence timeout, paused and so already unavailable")
                .isGreaterThan(paused);
        assertThat(restarted).isGreaterThan(silent);
    }

    @Test
    void aLiveWorkersIdBelongsToTheBrokerUserThatAnnouncedItAnotherUserMayTakeItOnlyOnceItIsLost() {
        Announcer own = new Announcer("gpu-1", "default");
        Announcer impostor = new Announcer("gpu-1", "default");
        assertThat(directory.accept(own.ready(), "worker-gpu-1")).isTrue();

        assertThat(directory.accept(impostor.status(WorkerState.GONE, null, null), "worker-gpu-2"))
                .as("another broker user naming a live worker's id")
                .isFalse();
        assertThat(directory.accept(own.ready(), null))
                .as("the same id without a user")
                .isFalse();
        assertThat(get("gpu-1").instance()).isEqualTo(own.instance);
        assertThat(directory.available("default"))
                .extracting(FleetWorker::brokerUser)
                .containsExactly("worker-gpu-1");
        assertThat(directory.brokerUserOf("gpu-1")).contains("worker-gpu-1");

        now.addAndGet(6 * SECOND);
        assertThat(directory.brokerUserOf("gpu-1")).as("lost: bound to nobody").isEmpty();
        assertThat(directory.accept(impostor.ready(), "worker-gpu-2")).isTrue();
        assertThat(directory.brokerUserOf("gpu-1")).contains("worker-gpu-2");
    }

    @Test
    void aWorkerIsAliveAndAvailableWhileItAnnouncesWithinThePresenceTimeout() {
        Announcer gpu = new Announcer("gpu-1", "default");
        directory.accept(gpu.ready());

        now.addAndGet(5 * SECOND);
        assertThat(directory.isAlive(get("gpu-1"))).isTrue();
        assertThat(directory.available("default")).extracting(FleetWorker::id).containsExactly("gpu-1");

        now.addAndGet(1);
        assertThat(directory.isAlive(get("gpu-1")))
                .as("silent past the timeout: lost")
                .isFalse();
        assertThat(directory.isAvailable(get("gpu-1"))).isFalse();
        assertThat(directory.available()).isEmpty();
        assertThat(directory.byPool()).isEmpty();

        directory.accept(gpu.ready());
        assertThat(directory.available("default")).hasSize(1);
    }

    @Test
    void onlyAReadyWorkerIsAvailableAPausedOrDrainingOneIsAliveAndAGoneOneIsNeither() {
        Announcer ready = new Announcer("ready", "default");
        Announcer paused = new Announcer("paused", "default");
        Announcer draining = new Announcer("draining", "default");
        Announcer gone = new Announcer("gone", "default");
        Announcer elsewhere = new Announcer("elsewhere", "other");

        directory.accept(ready.ready());
        directory.accept(paused.status(WorkerState.PAUSED, null, null));
        directory.accept(draining.status(WorkerState.DRAINING, null, null));
        directory.accept(gone.ready());
        directory.accept(gone.status(WorkerState.GONE, null, null));
        directory.accept(elsewhere.ready());

        assertThat(directory.available("default")).extracting(FleetWorker::id).containsExactly("ready");
        assertThat(directory.available()).extracting(FleetWorker::id).containsExactly("elsewhere", "ready");
        assertThat(directory.isAlive(get("paused"))).isTrue();
        assertThat(directory.isAlive(get("gone"))).isFalse();
        assertThat(directory.byPool())
                .isEqualTo(Map.of(
                        "default",
                        new WorkerDirectory.PoolFleet(1, 2, 0),
                        "other",
                        new WorkerDirectory.PoolFleet(1, 0, 0)));
    }

    @Test
    void anOlderStatusOfTheSameInstanceIsIgnoredButANewInstanceIsTakenWhateverItsSequence() {
        Announcer first = new Announcer("gpu-1", "default");
        WorkerStatus early = first.ready();
        WorkerStatus paused = first.status(WorkerState.PAUSED, null, null);
        directory.accept(paused);

        directory.accept(early);
        assertThat(get("gpu-1").state()).isEqualTo(WorkerState.PAUSED);
        assertThat(get("gpu-1").seq()).isEqualTo(2);

        now.addAndGet(SECOND);
        Announcer restarted = new Announcer("gpu-1", "default");
        directory.accept(restarted.ready());

        FleetWorker worker = get("gpu-1");
        assertThat(worker.instance()).isEqualTo(restarted.instance);
        assertThat(worker.state()).isEqualTo(WorkerState.READY);
        assertThat(worker.seq()).isEqualTo(1);
        assertThat(worker.instanceSeenNanos())
                .as("a new instance: what the old one held is not its own")
                .isEqualTo(now.get());
    }

    @Test
    void aStatusWithoutTheForgeOfferKeepsTheLastOneOfTheSameInstance() {
        Announcer gpu = new Announcer("gpu-1", "default");
        WorkerStatus.ForgeOffer offer = offer(FORGE, List.of("sdxl"), List.of("Euler a"));
        directory.accept(gpu.status(WorkerState.READY, null, offer));

        directory.accept(gpu.ready());

        assertThat(get("gpu-1").forge()).isEqualTo(offer);
        assertThat(get("gpu-1").offersCheckpoint("sdxl")).isTrue();
        assertThat(get("gpu-1").offersCheckpoint("flux")).isFalse();

        directory.accept(new Announcer("gpu-1", "default").ready());
        assertThat(get("gpu-1").forge()).as("a new instance has not said yet").isNull();
    }

    @Test
    void ofTwoWorkersDrivingOneForgeTheLaterIsRefusedUntilTheFirstIsGoneOrLost() {
        Announcer first = new Announcer("gpu-1", "default");
        Announcer second = new Announcer("gpu-2", "default");
        directory.accept(first.status(WorkerState.READY, null, offer(FORGE, List.of(), List.of())));
        now.addAndGet(SECOND);
        directory.accept(second.status(WorkerState.READY, null, offer(FORGE, List.of(), List.of())));

        assertThat(get("gpu-2").refusedBecause()).contains(FORGE).contains("gpu-1");
        assertThat(get("gpu-1").refusedBecause()).isNull();
        assertThat(directory.available("default")).extracting(FleetWorker::id).containsExactly("gpu-1");
        assertThat(directory.byPool().get("default")).isEqualTo(new WorkerDirectory.PoolFleet(1, 0, 1));

        directory.accept(first.status(WorkerState.GONE, null, null));
        assertThat(get("gpu-2").refusedBecause()).isNull();
        assertThat(directory.available("default")).extracting(FleetWorker::id).containsExactly("gpu-2");

        // the first comes back as a new instance: now it is the later one
        now.addAndGet(SECOND);
        Announcer back = new Announcer("gpu-1", "default");
        directory.accept(back.status(WorkerState.READY, null, offer(FORGE, List.of(), List.of())));
        assertThat(get("gpu-1").refusedBecause()).contains("gpu-2");

        // the second falls silent: the first takes the Forge over at the next expiry check
        now.addAndGet(3 * SECOND);
        directory.accept(back.ready());
        now.addAndGet(2 * SECOND);
        directory.expire();
        assertThat(get("gpu-1").refusedBecause()).isNull();
        assertThat(directory.available("default")).extracting(FleetWorker::id).containsExactly("gpu-1");
    }

    @Test
    void countsConsecutiveIdleReadyStatusesAndWhenTheIdlingBegan() {
        Announcer gpu = new Announcer("gpu-1", "default");
        WorkerStatus.Assignment job = new WorkerStatus.Assignment(UUID.randomUUID(), 1);
        directory.accept(gpu.status(WorkerState.READY, job, null));
        assertThat(get("gpu-1").idleReports()).isZero();
        assertThat(get("gpu-1").running()).isEqualTo(job);

        now.addAndGet(SECOND);
        long idleSince = now.get();
        directory.accept(gpu.ready());
        now.addAndGet(SECOND);
        directory.accept(gpu.ready());

        assertThat(get("gpu-1").idleReports()).isEqualTo(2);
        assertThat(get("gpu-1").idleSinceNanos()).isEqualTo(idleSince);
        assertThat(get("gpu-1").intervalNanos()).isEqualTo(SECOND);

        directory.accept(gpu.status(WorkerState.PAUSED, null, null));
        assertThat(get("gpu-1").idleReports()).as("a paused worker is not idle").isZero();
    }

    @Test
    void tellsItsListenersOfWhatChangesTheSchedulersChoicesNotOfEveryRepeat() {
        Announcer gpu = new Announcer("gpu-1", "default");

        directory.accept(gpu.status(WorkerState.READY, new WorkerStatus.Assignment(UUID.randomUUID(), 1), null));
        int joined = changes.get();
        directory.accept(gpu.status(WorkerState.READY, get("gpu-1").running(), null));
        int repeated = changes.get();
        directory.accept(gpu.ready());
        int idle = changes.get();
        directory.accept(gpu.ready());
        int idleTwice = changes.get();
        directory.accept(gpu.ready());
        int idleThrice = changes.get();
        directory.accept(gpu.status(WorkerState.PAUSED, null, null));

        assertThat(joined).as("joined").isEqualTo(1);
        assertThat(repeated).as("the same again").isEqualTo(1);
        assertThat(idle).as("finished its job").isEqualTo(2);
        assertThat(idleTwice).as("idle twice: an assignment may have been lost").isEqualTo(3);
        assertThat(idleThrice).isEqualTo(3);
        assertThat(changes.get()).as("paused").isEqualTo(4);
    }

    @Test
    void aWorkerFallingSilentIsAnnouncedByTheExpiryCheckAndForgottenLater() {
        directory.accept(new Announcer("gpu-1", "default").ready());
        directory.expire();
        int before = changes.get();

        now.addAndGet(6 * SECOND);
        directory.expire();
        assertThat(changes.get()).as("no longer available").isEqualTo(before + 1);
        directory.expire();
        assertThat(changes.get()).isEqualTo(before + 1);

        now.addAndGet(Duration.ofMinutes(10).toNanos());
        directory.expire();
        assertThat(directory.get("gpu-1")).isEmpty();
        assertThat(directory.all()).isEmpty();
    }

    @Test
    void ignoresAnnouncementsWithAnUnusableIdOrPool() {
        directory.accept(new WorkerStatus(
                "bad id!", UUID.randomUUID(), "default", WorkerState.READY, 1, null, null, 1000, Instant.now()));
        directory.accept(new WorkerStatus(
                "gpu-1", UUID.randomUUID(), "Bad Pool", WorkerState.READY, 1, null, null, 1000, Instant.now()));

        assertThat(directory.all()).isEmpty();
        assertThat(changes.get()).isZero();
    }

    @Test
    void aWorkerOffersWhatItsForgeListsAndAnythingWhileTheListIsUnknown() {
        Announcer known = new Announcer("known", "default");
        Announcer unknown = new Announcer("unknown", "default");
        directory.accept(known.status(WorkerState.READY, null, offer(null, List.of("sdxl"), List.of("Euler a"))));
        directory.accept(unknown.status(WorkerState.READY, null, offer(null, List.of(), List.of())));

        assertThat(get("known").offersCheckpoint("sdxl")).isTrue();
        assertThat(get("known").offersCheckpoint("flux")).isFalse();
        assertThat(get("known").offersCheckpoint(null))
                .as("a job that names none")
                .isTrue();
        assertThat(get("known").offersSampler("DPM++ 2M")).isFalse();
        assertThat(get("known").offersSampler(null)).isTrue();
        assertThat(get("unknown").offersCheckpoint("flux")).isTrue();
        assertThat(get("unknown").offersSampler("DPM++ 2M")).isTrue();
        assertThat(get("unknown").forgeIdentity())
                .as("no identity: never refused")
                .isNull();
    }
}
