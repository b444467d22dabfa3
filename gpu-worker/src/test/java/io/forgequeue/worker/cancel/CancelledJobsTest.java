package io.forgequeue.worker.cancel;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class CancelledJobsTest {

    private Instant now = Instant.parse("2026-11-22T10:00:00Z");
    private final Clock clock = new Clock() {
        @Override
        public ZoneOffset getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    };

    @Test
    void remembersACancelledJob() {
        CancelledJobs jobs = new CancelledJobs(10, Duration.ofHours(1), clock);
        UUID id = UUID.randomUUID();

        jobs.cancel(id);

        assertThat(jobs.isCancelled(id)).isTrue();
        assertThat(jobs.isCancelled(UUID.randomUUID())).isFalse();
    }

    @Test
    void forgetsACancelAfterItsTimeToLive() {
        CancelledJobs jobs = new CancelledJobs(10, Duration.ofHours(1), clock);
        UUID id = UUID.randomUUID();
        jobs.cancel(id);

        now = now.plus(Duration.ofMinutes(61));

        assertThat(jobs.isCancelled(id)).isFalse();
        assertThat(jobs.size()).isZero();
    }

    @Test
    void forgetsTheOldestWhenFull() {
        CancelledJobs jobs = new CancelledJobs(3, Duration.ofHours(1), clock);
        List<UUID> ids = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            UUID id = UUID.randomUUID();
            ids.add(id);
            jobs.cancel(id);
            now = now.plusSeconds(1);
        }

        assertThat(jobs.size()).isEqualTo(3);
        assertThat(jobs.isCancelled(ids.get(0))).isFalse();
        assertThat(jobs.isCancelled(ids.get(1))).isFalse();
        assertThat(jobs.isCancelled(ids.get(4))).isTrue();
    }

    @Test
    void aRepeatedCancelRefreshesTheEntry() {
        CancelledJobs jobs = new CancelledJobs(2, Duration.ofHours(1), clock);
        UUID first = UUID.randomUUID();
        jobs.cancel(first);
        jobs.cancel(UUID.randomUUID());

        jobs.cancel(first);
        jobs.cancel(UUID.randomUUID());

        assertThat(jobs.isCancelled(first)).isTrue();
    }

    @Test
    void tellsItsListenersOfEveryCancel() {
        CancelledJobs jobs = new CancelledJobs(10, Duration.ofHours(1), clock);
        List<UUID> heard = new ArrayList<>();
        List<Integer> attempts = new ArrayList<>();
        jobs.onCancel((jobId, attempt) -> {
            heard.add(jobId);
            attempts.add(attempt);
        });
        UUID id = UUID.randomUUID();

        jobs.cancel(id);
        jobs.stopAttempt(id, 3);

        assertThat(heard).containsExactly(id, id);
        assertThat(attempts).containsExactly(null, 3);
    }

    @Test
    void aStoppedAttemptStopsOnlyThatAttemptWhileAnOwnersCancelStopsEvery() {
        CancelledJobs jobs = new CancelledJobs(10, Duration.ofHours(1), clock);
        UUID revoked = UUID.randomUUID();
        UUID cancelled = UUID.randomUUID();

        jobs.stopAttempt(revoked, 2);
        jobs.cancel(cancelled);

        assertThat(jobs.isStopped(revoked, 2)).isTrue();
        assertThat(jobs.isStopped(revoked, 3))
                .as("the attempt handed out next runs")
                .isFalse();
        assertThat(jobs.isCancelled(revoked)).isFalse();
        assertThat(jobs.isStopped(cancelled, 1)).isTrue();
        assertThat(jobs.isStopped(cancelled, 7)).isTrue();
    }
}
