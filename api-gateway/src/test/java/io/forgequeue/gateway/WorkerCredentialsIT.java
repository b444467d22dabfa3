package io.forgequeue.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import io.forgequeue.model.Topology;
import io.forgequeue.model.WorkerState;
import io.forgequeue.model.WorkerStatus;
import io.forgequeue.testsupport.BrokerRoles;
import io.forgequeue.testsupport.RabbitEndpoint;
import java.time.Duration;
import java.time.Instant;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * Attributable worker messages (issue 19, README "Security"): two workers, each with its own least-privilege broker
 * user. What one worker's credential publishes about a job handed to the other, with its own valid user_id, the
 * gateway refuses and counts: events ({@code gpu.gateway.events.rejected{reason=wrong-publisher}}), previews and an
 * announcement of the other's worker id ({@code gpu.gateway.worker-messages.refused}). The job's own worker still
 * completes it.
 */
class WorkerCredentialsIT extends IntegrationTestBase {

    private static final String ID_A = "cred-a-" + UUID.randomUUID().toString().substring(0, 6);
    private static final String ID_B = "cred-b-" + UUID.randomUUID().toString().substring(0, 6);
    private static final RabbitEndpoint USER_A =
            RABBIT.withNewUser("worker-a", BrokerRoles.worker(ID_A), BrokerRoles.WORKER_TOPIC_WRITE);
    private static final RabbitEndpoint USER_B =
            RABBIT.withNewUser("worker-b", BrokerRoles.worker(ID_B), BrokerRoles.WORKER_TOPIC_WRITE);

    @AfterAll
    static void deleteUsers() {
        USER_A.deleteUser(RABBIT);
        USER_B.deleteUser(RABBIT);
    }

    /** A started worker with its own broker user; stopped after the test. */
    private TestWorker worker(RabbitEndpoint user, String id, String pool) {
        return aWorker(user, pool).id(id).start();
    }

    @Test
    void eventsAndPreviewsForAJobAssignedToAnotherWorkerAreRefusedAndCountedAndItsOwnWorkerStillCompletesIt()
            throws Exception {
        String pool = newPool();
        String key = newKey();
        TestWorker a = worker(USER_A, ID_A, pool);
        worker(USER_B, ID_B, newPool());
        awaitAvailableWorkers(pool, 1);
        UUID id = api().submit(key, Api.job(pool, "attributed")).id();
        try (WsClient ws = WsClient.withHeader(port, key)) {
            ws.nextOfType("authenticated");
            ws.subscribe(id);
            ws.nextOfType("snapshot");
            JobAttempt own = a.next();
            own.publish(own.running());
            ws.next(f -> id.toString().equals(f.path("job").path("id").asString())
                    && "RUNNING".equals(f.path("job").path("status").asString()));
            double wrongBefore = counter("gpu.gateway.events.rejected", "reason", "wrong-publisher");
            double previewsBefore = counter("gpu.gateway.worker-messages.refused", "kind", "preview");

            try (Connection b = USER_B.connectionFactory().newConnection("worker-b-forging")) {
                Channel channel = b.createChannel();
                // B names A's assignment exactly (attempt, worker id), but publishes as itself (RabbitMQ validates
                // user_id): a preview into the owner's browser, then a fake result
                JobAttempt forged = new JobAttempt(channel, USER_B.username(), ID_A, id, own.attempt());
                forged.preview(3);
                forged.publish(forged.progress(90), forged.succeeded(1));

                await().atMost(Duration.ofSeconds(10))
                        .until(() ->
                                counter("gpu.gateway.events.rejected", "reason", "wrong-publisher") >= wrongBefore + 2);
                await().atMost(Duration.ofSeconds(10))
                        .until(() -> counter("gpu.gateway.worker-messages.refused", "kind", "preview")
                                >= previewsBefore + 1);
            }
            assertThat(assignment(id)).containsEntry("status", "RUNNING").containsEntry("assigned_worker", ID_A);

            own.preview(5);
            assertThat(ws.nextOfType("preview").get("step").asInt())
                    .as("the first preview the owner sees is its worker's, not the forged one")
                    .isEqualTo(5);
            own.publish(own.succeeded(1));

            await().atMost(Duration.ofSeconds(10))
                    .until(() -> assignment(id).get("status").equals("SUCCEEDED"));
            assertThat(counter("gpu.gateway.events.rejected", "reason", "wrong-publisher"))
                    .isEqualTo(wrongBefore + 2);
        }
    }

    @Test
    void theGatewayDeclaresTheDeadLetterQueueOfAPoolAWorkerAnnouncesSinceWorkerUsersMayDeclareNothingShared() {
        String pool = newPool();
        assertThat(BROKER.depth(Topology.deadLetterQueue(pool)))
                .as("not configured: no queue yet")
                .isEqualTo(-1);

        worker(USER_A, ID_A, pool);

        await().atMost(Duration.ofSeconds(10)).until(() -> BROKER.depth(Topology.deadLetterQueue(pool)) == 0);
    }

    @Test
    void anotherBrokerUserAnnouncingALiveWorkersIdIsRefusedAndCounted() throws Exception {
        String pool = newPool();
        worker(USER_A, ID_A, pool);
        awaitAvailableWorkers(pool, 1);
        double before = counter("gpu.gateway.worker-messages.refused", "kind", "announcement");

        try (Connection b = USER_B.connectionFactory().newConnection("worker-b-impersonating")) {
            // B claims A's id and says it is leaving: were it believed, A would get no more jobs
            WorkerStatus claim = new WorkerStatus(
                    ID_A, UUID.randomUUID(), pool, WorkerState.GONE, 1, null, null, 1000, Instant.now());
            TestWorker.announce(b.createChannel(), claim, USER_B.username());
        }

        await().atMost(Duration.ofSeconds(10))
                .until(() -> counter("gpu.gateway.worker-messages.refused", "kind", "announcement") >= before + 1);
        assertThat(fleet.available(pool))
                .extracting(w -> w.id() + "@" + w.brokerUser())
                .containsExactly(ID_A + "@" + USER_A.username());
    }
}
