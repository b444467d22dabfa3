package io.forgequeue.gateway.queue;

import static org.assertj.core.api.Assertions.assertThat;

import io.forgequeue.model.JobStatus;
import java.util.Comparator;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** What the per-key meters read from the queue index: each key's queued and running jobs over all pools. */
class QueueIndexOwnerJobsTest {

    private final QueueIndex index = new QueueIndex(Comparator.comparingLong(JobState::ticket), () -> 0L);
    private final UUID alice = UUID.randomUUID();
    private final UUID bob = UUID.randomUUID();
    private long ticket;

    @Test
    void waitingAndAssignedJobsCountAsQueuedAndStartedOnesAsRunningOverAllPools() {
        UUID a1 = waiting(alice, "pool-a", "ckpt-1");
        waiting(alice, "pool-a", "ckpt-2");
        waiting(alice, "pool-b", null);
        UUID a4 = waiting(alice, "pool-b", null);
        waiting(bob, "pool-a", null);

        index.apply(state(a1, 2, JobStatus.QUEUED, alice, "pool-a", "ckpt-1", "w1", 10));
        index.apply(state(a4, 2, JobStatus.RUNNING, alice, "pool-b", null, "w2", 11));

        assertThat(index.jobsByOwner())
                .containsOnlyKeys(alice, bob)
                .containsEntry(alice, new QueueIndex.OwnerJobs(3, 1))
                .containsEntry(bob, new QueueIndex.OwnerJobs(1, 0));
    }

    @Test
    void aKeyWhoseJobsAllEndedIsLeftOut() {
        UUID job = waiting(bob, "pool-a", null);

        index.apply(state(job, 2, JobStatus.RUNNING, bob, "pool-a", null, "w1", 10));
        index.apply(state(job, 3, JobStatus.SUCCEEDED, bob, "pool-a", null, null, 10));

        assertThat(index.jobsByOwner()).isEmpty();
    }

    @Test
    void aJobsOwnAheadCountsTheKeysEarlierJobsOverAllItsGroupsOfThePool() {
        for (int i = 0; i < 1500; i++) { // several blocks of the order-statistic groups
            waiting(alice, "pool-a", i % 2 == 0 ? "ckpt-1" : "ckpt-2");
            waiting(bob, "pool-a", "ckpt-1");
        }
        UUID last = waiting(alice, "pool-a", "ckpt-1");
        waiting(alice, "pool-b", "ckpt-1"); // another pool: not ahead

        QueueIndex.Standing standing = index.standing(last);

        assertThat(standing.ownAhead()).isEqualTo(1500);
        assertThat(standing.position()).isEqualTo(3001);
    }

    private UUID waiting(UUID owner, String pool, String checkpoint) {
        UUID id = UUID.randomUUID();
        index.apply(state(id, 1, JobStatus.QUEUED, owner, pool, checkpoint, null, ++ticket));
        return id;
    }

    private static JobState state(
            UUID id,
            long version,
            JobStatus status,
            UUID owner,
            String pool,
            String checkpoint,
            String worker,
            long ticket) {
        return new JobState(
                id,
                version,
                status,
                pool,
                owner,
                1,
                0.0,
                ticket,
                checkpoint,
                null,
                1.0,
                0L,
                worker,
                worker == null ? 0 : 1,
                0L,
                0L);
    }
}
