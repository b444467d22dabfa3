package io.forgequeue.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.forgequeue.model.WorkerState;
import io.forgequeue.model.WorkerStatus;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * A job handed to a worker whose queue is gone (it paused because its Forge went down, and its PAUSED status has
 * not arrived yet) comes back to the queue and waits; it is not handed to that worker again and again until it fails
 * with too many attempts. Seen in the browser test of issue 18: one worker, Forge down, the running job given back
 * and then failed "handed out 5 times without finishing" within 60 ms.
 */
class ReturnedHandOutIT extends IntegrationTestBase {

    @Test
    void aWorkerWhoseQueueIsMissingGetsNoFurtherHandOutUntilItAnnouncesItselfAgain() {
        String key = newKey();
        String pool = newPool();
        String worker = "noq-" + UUID.randomUUID().toString().substring(0, 8);
        UUID instance = UUID.randomUUID();
        UUID id = api().submit(key, Api.job(pool, "handed to a worker without a queue"))
                .id();
        boolean returnedBefore = api().get(key, "/api/v1/jobs/" + id)
                .json()
                .get("waiting")
                .get("returned")
                .asBoolean();

        // READY, but it never declared its queue: every job message to it comes back
        TestWorker.announce(BROKER.channel(), status(worker, instance, pool, 1));
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            Map<String, Object> row = row(id);
            return ((Number) row.get("attempt")).intValue() >= 1 && row.get("assigned_worker") == null;
        });
        Map<String, Object> afterReturn = row(id);
        boolean returnedAfter = api().get(key, "/api/v1/jobs/" + id)
                .json()
                .get("waiting")
                .get("returned")
                .asBoolean();
        TestWorker.announce(BROKER.channel(), status(worker, instance, pool, 2));
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            Map<String, Object> row = row(id);
            return ((Number) row.get("attempt")).intValue() >= 2 && row.get("assigned_worker") == null;
        });
        Map<String, Object> afterSecondReturn = row(id);

        assertThat(afterReturn).containsEntry("status", "QUEUED").containsEntry("attempt", 1);
        assertThat(returnedBefore).isFalse();
        assertThat(returnedAfter)
                .as("the user is told it was given back and will run again")
                .isTrue();
        assertThat(afterSecondReturn)
                .as("one more hand-out per announcement, no more")
                .containsEntry("status", "QUEUED")
                .containsEntry("attempt", 2);
        api().delete(key, "/api/v1/jobs/" + id);
    }

    private Map<String, Object> row(UUID id) {
        return jdbc.queryForMap("select status, attempt, assigned_worker from job where id = ?", id);
    }

    private static WorkerStatus status(String worker, UUID instance, String pool, long seq) {
        return new WorkerStatus(worker, instance, pool, WorkerState.READY, seq, null, null, 1000, Instant.now());
    }
}
