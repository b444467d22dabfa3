package io.forgequeue.worker.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.times;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import io.forgequeue.model.WorkerState;
import io.forgequeue.model.WorkerStatus;
import io.forgequeue.worker.forge.ForgeClient;
import io.forgequeue.worker.system.WorkerProperties;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.amqp.AmqpConnectException;

/**
 * What the worker announces and when, with the broker replaced by a list and the consumer's and Forge's states
 * scripted. {@code tick()} is what the announcer's thread runs ten times a second.
 */
class WorkerAnnouncerTest {

    private static final Duration LONG = Duration.ofHours(1);

    private final List<WorkerStatus> sent = new CopyOnWriteArrayList<>();
    private final AtomicInteger tries = new AtomicInteger();
    private volatile boolean brokerRefuses;
    private final ForgeClient forge = mock(ForgeClient.class);
    private final ConsumptionControl consumption = mock(ConsumptionControl.class);
    private final ShutdownGrace shutdown = mock(ShutdownGrace.class);
    private final Holding holding = new Holding();
    private final ForgeClient.Offer offer = new ForgeClient.Offer(
            "http://gpu-box:7861", List.of("flux1-dev"), List.of("Euler"), List.of("Simple"), null, Map.of(), null);
    /** The same Forge after a job ran on flux1-dev: loaded now, its load time and the speed measured. */
    private final ForgeClient.Offer loaded = new ForgeClient.Offer(
            "http://gpu-box:7861",
            List.of("flux1-dev"),
            List.of("Euler"),
            List.of("Simple"),
            "flux1-dev",
            Map.of("flux1-dev", 4.2),
            0.05);

    private WorkerAnnouncer announcer;

    @BeforeEach
    void consumingWorkerWithAnsweringForge() {
        when(forge.offer()).thenReturn(Optional.of(offer));
        when(consumption.hasCheckedForgeAtStartup()).thenReturn(true);
        when(consumption.isConsuming()).thenReturn(true);
        when(consumption.isContainerRunning()).thenReturn(true);
    }

    @AfterEach
    void stopThreads() {
        if (announcer != null && announcer.isRunning()) {
            announcer.stop();
        }
    }

    private WorkerAnnouncer announcer(Duration interval, Duration offerEvery) {
        WorkerProperties properties = new WorkerProperties(
                "gpu-a",
                "sdxl",
                5,
                Duration.ofSeconds(30),
                Duration.ofSeconds(10),
                new WorkerProperties.Outcome(LONG, Duration.ofMillis(250), Duration.ofSeconds(5)),
                new WorkerProperties.Progress(
                        Duration.ofMillis(500),
                        Duration.ofMillis(250),
                        Duration.ofSeconds(10),
                        true,
                        Duration.ofSeconds(2)),
                new WorkerProperties.Cancel(100, LONG),
                new WorkerProperties.Presence(interval, offerEvery));
        announcer = new WorkerAnnouncer(
                status -> {
                    tries.incrementAndGet();
                    if (brokerRefuses) {
                        throw new AmqpConnectException(new java.net.ConnectException("refused"));
                    }
                    sent.add(status);
                },
                properties,
                forge,
                consumption,
                shutdown,
                holding,
                Clock.systemUTC(),
                new io.micrometer.core.instrument.simple.SimpleMeterRegistry());
        return announcer;
    }

    @Test
    void saysNothingBeforeForgeWasCheckedAtStartupAndItsConsumerRegistered() {
        WorkerAnnouncer announcer = announcer(LONG, LONG);
        announcer.readOffer();
        when(consumption.hasCheckedForgeAtStartup()).thenReturn(false);
        announcer.tick();
        when(consumption.hasCheckedForgeAtStartup()).thenReturn(true);
        when(consumption.isConsuming()).thenReturn(false);
        announcer.tick();
        assertThat(sent).isEmpty();

        when(consumption.isConsuming()).thenReturn(true);
        announcer.tick();

        assertThat(sent).hasSize(1);
        WorkerStatus first = sent.get(0);
        assertThat(first.state()).isEqualTo(WorkerState.READY);
        assertThat(first.seq()).isEqualTo(1);
        assertThat(first.workerId()).isEqualTo("gpu-a");
        assertThat(first.pool()).isEqualTo("sdxl");
        assertThat(first.instance()).isEqualTo(announcer.instance());
        assertThat(first.intervalMillis()).isEqualTo(LONG.toMillis());
        assertThat(first.running()).isNull();
        assertThat(first.forge())
                .isEqualTo(new WorkerStatus.ForgeOffer(
                        "http://gpu-box:7861",
                        List.of("flux1-dev"),
                        List.of("Euler"),
                        List.of("Simple"),
                        null,
                        Map.of(),
                        null));
    }

    @Test
    void announcesAChangeOfTheHeldAssignmentAtOnceNotAtItsNextCheck() {
        WorkerAnnouncer announcer = announcer(LONG, LONG);
        announcer.readOffer();
        announcer.tick();
        assertThat(sent).hasSize(1);
        announcer.checkEvery(Duration.ofHours(1)); // no periodic check within this test
        announcer.start();
        WorkerStatus.Assignment job = new WorkerStatus.Assignment(UUID.randomUUID(), 1);

        holding.taken(job);

        // the scheduler frees the slot of the job the worker moved on from when it hears this
        await().atMost(Duration.ofSeconds(10)).until(() -> sent.size() >= 2);
        assertThat(sent.get(1).running()).isEqualTo(job);

        holding.released();

        await().atMost(Duration.ofSeconds(10)).until(() -> sent.size() >= 3);
        assertThat(sent.get(2).running()).isNull();
    }

    @Test
    void waitsForItsFirstLookAtWhatForgeOffersBeforeItsFirstAnnouncement() {
        WorkerAnnouncer announcer = announcer(LONG, LONG);
        announcer.tick();
        assertThat(sent).isEmpty();

        announcer.readOffer();
        announcer.tick();

        assertThat(sent).singleElement().satisfies(s -> assertThat(s.forge()).isNotNull());
    }

    /** Else a Forge that was slow once (the catalog waits 30 s after a failure) would leave it without an offer. */
    @Test
    void asksForgeForItsListsAgainSoonWhenTheFirstReadFailedAndAnnouncesTheOfferOnceKnown() {
        AtomicBoolean listsRead = new AtomicBoolean();
        when(forge.offer()).thenAnswer(i -> listsRead.get() ? Optional.of(offer) : Optional.empty());
        when(forge.refreshCatalog()).thenReturn(false, false).thenAnswer(i -> {
            listsRead.set(true);
            return true;
        });
        WorkerAnnouncer announcer = announcer(Duration.ZERO, LONG);
        announcer.readOffer();
        announcer.tick();

        announcer.readOffer(); // asks again: nothing yet
        announcer.tick();
        announcer.readOffer(); // asks again (the pause starts at the interval, here zero)
        announcer.tick();

        assertThat(sent).extracting(s -> s.forge() != null).containsExactly(false, false, true);
        verify(forge, times(3)).refreshCatalog();
    }

    @Test
    void pausesBetweenTwoRequestsForForgesListsWhileItCannotReadThem() {
        when(forge.offer()).thenReturn(Optional.empty());
        when(forge.refreshCatalog()).thenReturn(false);
        WorkerAnnouncer announcer = announcer(LONG, LONG);

        announcer.readOffer();
        announcer.readOffer();
        announcer.readOffer();
        announcer.readOffer();

        verify(forge, times(2)).refreshCatalog();
    }

    /** The periodic catalog refresh reads them again; the announcer only makes sure they are read once. */
    @Test
    void asksForgeForNothingOnceItsListsWereRead() {
        WorkerAnnouncer announcer = announcer(Duration.ZERO, LONG);

        announcer.readOffer();
        announcer.tick();
        announcer.readOffer();
        announcer.tick();

        assertThat(sent).hasSize(2);
        verify(forge, never()).refreshCatalog();
    }

    @Test
    void announcesAtOnceWhenItTakesOrReleasesAnAssignmentAndOtherwiseOnlyWhenDue() {
        WorkerAnnouncer announcer = announcer(LONG, LONG);
        announcer.readOffer();
        announcer.tick();
        announcer.tick();
        assertThat(sent).hasSize(1);
        WorkerStatus.Assignment assignment = new WorkerStatus.Assignment(UUID.randomUUID(), 3);

        holding.taken(assignment);
        announcer.tick();
        announcer.tick();
        holding.released();
        announcer.tick();

        assertThat(sent).extracting(WorkerStatus::running).containsExactly(null, assignment, null);
        assertThat(sent).extracting(WorkerStatus::seq).containsExactly(1L, 2L, 3L);
        assertThat(sent).extracting(WorkerStatus::state).containsOnly(WorkerState.READY);
    }

    @Test
    void repeatsTheOfferWhenItChangedOrOfferEveryElapsedAndOmitsItInBetween() {
        WorkerAnnouncer announcer = announcer(Duration.ZERO, LONG);
        announcer.readOffer();
        announcer.tick();
        announcer.tick();

        when(forge.offer()).thenReturn(Optional.of(loaded)); // a job ran: Forge keeps flux1-dev loaded
        announcer.tick();
        announcer.tick();

        assertThat(sent).hasSize(4);
        assertThat(sent.get(0).forge()).isNotNull();
        assertThat(sent.get(1).forge())
                .as("unchanged: the gateways keep the last one")
                .isNull();
        assertThat(sent.get(2).forge())
                .isEqualTo(new WorkerStatus.ForgeOffer(
                        "http://gpu-box:7861",
                        List.of("flux1-dev"),
                        List.of("Euler"),
                        List.of("Simple"),
                        "flux1-dev",
                        Map.of("flux1-dev", 4.2),
                        0.05));
        assertThat(sent.get(3).forge()).isNull();
    }

    /**
     * The scheduler places its next job by what is loaded: the announcement that the worker is free already names
     * what the job it released left loaded, not what was loaded before it.
     */
    @Test
    void announcesTheCheckpointAJobLeftLoadedTogetherWithItsRelease() {
        WorkerAnnouncer announcer = announcer(LONG, LONG);
        announcer.readOffer();
        announcer.tick();
        holding.taken(new WorkerStatus.Assignment(UUID.randomUUID(), 1));
        announcer.tick();

        when(forge.offer()).thenReturn(Optional.of(loaded)); // Forge answered the job on flux1-dev
        holding.released();
        announcer.tick();

        assertThat(sent).hasSize(3);
        assertThat(sent.get(2).running()).isNull();
        assertThat(sent.get(2).forge())
                .isNotNull()
                .satisfies(f -> assertThat(f.loadedCheckpoint()).isEqualTo("flux1-dev"));
    }

    @Test
    void saysPausedWhileForgeIsDownOrItsConsumerReconnectsAndFallsSilentWhenItsContainerStoppedForGood() {
        WorkerAnnouncer announcer = announcer(Duration.ZERO, LONG);
        announcer.readOffer();
        announcer.tick();

        when(consumption.isPaused()).thenReturn(true);
        when(consumption.isConsuming()).thenReturn(false);
        announcer.tick();
        when(consumption.isPaused()).thenReturn(false); // Forge is back, but the consumer connection dropped
        announcer.tick();
        when(consumption.isContainerRunning()).thenReturn(false);
        announcer.tick();
        announcer.tick();

        assertThat(sent)
                .extracting(WorkerStatus::state)
                .containsExactly(WorkerState.READY, WorkerState.PAUSED, WorkerState.PAUSED);
    }

    @Test
    void saysDrainingAsSoonAsShutdownBeginsStillNamingItsJobAndGoneLast() {
        WorkerAnnouncer announcer = announcer(LONG, LONG);
        announcer.readOffer();
        announcer.tick();
        WorkerStatus.Assignment assignment = new WorkerStatus.Assignment(UUID.randomUUID(), 1);
        holding.taken(assignment);

        when(shutdown.isStopping()).thenReturn(true);
        announcer.tick();
        announcer.stop();

        assertThat(sent)
                .extracting(WorkerStatus::state)
                .containsExactly(WorkerState.READY, WorkerState.DRAINING, WorkerState.GONE);
        assertThat(sent.get(1).running()).isEqualTo(assignment);
        assertThat(sent.get(2).running()).isNull();
        assertThat(sent).extracting(WorkerStatus::seq).containsExactly(1L, 2L, 3L);
    }

    @Test
    void saysNothingAtAllWhenItStopsBeforeItEverAnnouncedItself() {
        WorkerAnnouncer announcer = announcer(LONG, LONG);
        announcer.readOffer();
        when(consumption.hasCheckedForgeAtStartup()).thenReturn(false);
        when(shutdown.isStopping()).thenReturn(true);

        announcer.tick();
        announcer.stop();

        assertThat(sent).isEmpty();
    }

    @Test
    void triesAgainOnlyOncePerIntervalWhileTheBrokerRefusesAnnouncements() {
        WorkerAnnouncer announcer = announcer(LONG, LONG);
        announcer.readOffer();
        brokerRefuses = true;

        announcer.tick();
        announcer.tick();
        holding.taken(new WorkerStatus.Assignment(UUID.randomUUID(), 1));
        announcer.tick();

        assertThat(tries).hasValue(1);
        assertThat(sent).isEmpty();
    }

    /** A Forge that hangs when asked for its lists must not silence the worker (it would be taken for lost). */
    @Test
    void keepsAnnouncingWhileForgeHangsWhenAskedWhatItOffers() throws Exception {
        CountDownLatch forgeHangs = new CountDownLatch(1);
        CountDownLatch askedAgain = new CountDownLatch(1);
        when(forge.offer()).thenReturn(Optional.empty());
        when(forge.refreshCatalog()).thenReturn(false).thenAnswer(invocation -> {
            askedAgain.countDown();
            forgeHangs.await();
            return false;
        });
        WorkerAnnouncer announcer = announcer(Duration.ofMillis(100), LONG);
        try {
            announcer.start();
            assertThat(askedAgain.await(10, java.util.concurrent.TimeUnit.SECONDS))
                    .isTrue();
            int before = sent.size();
            await().atMost(Duration.ofSeconds(10)).until(() -> sent.size() >= before + 2);
            WorkerStatus.Assignment assignment = new WorkerStatus.Assignment(UUID.randomUUID(), 1);

            holding.taken(assignment);

            await().atMost(Duration.ofSeconds(10))
                    .until(() -> sent.stream().anyMatch(s -> assignment.equals(s.running())));
            int count = sent.size();
            await().atMost(Duration.ofSeconds(10)).until(() -> sent.size() >= count + 3);
        } finally {
            forgeHangs.countDown();
        }
    }
}
