package io.forgequeue.worker;

import static io.forgequeue.model.fixtures.JobSpecBuilder.aSpec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ShutdownSignalException;
import io.forgequeue.forgesim.ForgeSimProcess;
import io.forgequeue.model.EventType;
import io.forgequeue.model.Topology;
import io.forgequeue.model.WorkerState;
import io.forgequeue.testsupport.BrokerRoles;
import io.forgequeue.testsupport.RabbitEndpoint;
import io.forgequeue.testsupport.TestInfrastructure;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * A worker that connects with its own least-privilege broker user (the permissions of
 * {@code infra/local/rabbitmq.sh add-worker-user}, {@link BrokerRoles#worker}) runs jobs end to end, and what that
 * credential must not do the broker refuses: publish a relay update, read another worker's queue or the persist
 * queue, copy another worker's job messages into a queue of its own, hand out job messages itself, declare or delete
 * the gateway's queues, publish as another user. The test plays the gateway with the gateway's least-privilege user
 * ({@link BrokerRoles#gateway}: it declares the shared topology and hands jobs out through the default exchange,
 * {@link TestBroker}).
 */
@SpringBootTest(
        webEnvironment = SpringBootTest.WebEnvironment.NONE,
        properties = {
            "worker.id=" + LeastPrivilegeWorkerIT.WORKER,
            "worker.progress.poll-interval=100ms",
            "worker.presence.interval=200ms"
        })
@DirtiesContext
class LeastPrivilegeWorkerIT {

    static final Duration WAIT = Duration.ofSeconds(30);
    static final String WORKER = "lp.worker-1";
    static final String OLD_JOBS_EXCHANGE = "forge.jobs";
    static final RabbitEndpoint ADMIN = TestInfrastructure.rabbit().withFreshVirtualHost("worker-least-privilege");
    static final RabbitEndpoint OWN =
            ADMIN.withNewUser("worker-1", BrokerRoles.worker(WORKER), BrokerRoles.WORKER_TOPIC_WRITE);
    static final RabbitEndpoint OTHER =
            ADMIN.withNewUser("worker-2", BrokerRoles.worker("lp.worker-2"), BrokerRoles.WORKER_TOPIC_WRITE);
    static final RabbitEndpoint GATEWAY = ADMIN.withNewUser("gateway", BrokerRoles.gateway(), null);
    static final ForgeSimProcess SIM = startSim();

    static EventRecorder events;
    static TestBroker broker;
    static Connection own;

    static ForgeSimProcess startSim() {
        try {
            return ForgeSimProcess.start("--step-ms", "5", "--model-load-ms", "0");
        } catch (Exception e) {
            throw new IllegalStateException("forge-sim did not start", e);
        }
    }

    @DynamicPropertySource
    static void infrastructure(DynamicPropertyRegistry registry) {
        TestInfrastructure.springProperties(OWN, null).forEach((name, value) -> registry.add(name, () -> value));
        registry.add("worker.forge.url", () -> SIM.baseUrl().toString());
    }

    @BeforeAll
    static void watch() throws Exception {
        broker = new TestBroker(GATEWAY).to(WORKER);
        try (Channel admin = broker.adminChannel()) {
            // the direct exchange job messages went through before they took the default exchange: a broker that
            // ran an older gateway still has it (and a worker could bind to it as long as it could read it)
            admin.exchangeDeclare(OLD_JOBS_EXCHANGE, "direct", true);
        }
        events = new EventRecorder(ADMIN);
        own = OWN.connectionFactory().newConnection("least-privilege-probe");
    }

    @AfterAll
    static void stop() throws Exception {
        own.close();
        events.close();
        broker.close();
        SIM.close();
        OWN.deleteUser(ADMIN);
        OTHER.deleteUser(ADMIN);
        GATEWAY.deleteUser(ADMIN);
    }

    @Test
    void aWorkerWithItsOwnLeastPrivilegeUserRunsAJobEndToEndAndSignsWhatItPublishes() {
        events.awaitStatus(WORKER, 0, s -> s.state() == WorkerState.READY, WAIT);
        UUID jobId = UUID.randomUUID();

        assertThat(broker.offer(jobId, aSpec().size(256, 256).steps(5).build())).isTrue();

        assertThat(events.awaitOutcome(jobId, WAIT).type()).isEqualTo(EventType.SUCCEEDED);
        assertThat(events.publishers())
                .as("events and announcements carry the worker's broker user as user_id")
                .contains("job:" + OWN.username(), "worker:" + OWN.username())
                .allSatisfy(p -> assertThat(p).endsWith(":" + OWN.username()));
    }

    @Test
    void theWorkerUserCannotPublishARelayUpdateForOtherGatewaysClients() throws Exception {
        assertRefused(
                403,
                ch -> ch.basicPublish(
                        Topology.EVENTS_EXCHANGE, "relay.update", null, "{}".getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void theWorkerUserCannotReadAnotherWorkersQueueOrThePersistQueue() throws Exception {
        try (Channel admin = broker.adminChannel()) {
            admin.queueDeclare(Topology.workerQueue("lp.worker-2"), false, false, true, null);
        }
        assertRefused(403, ch -> ch.basicConsume(Topology.workerQueue("lp.worker-2"), true, (t, d) -> {}, t -> {}));
        assertRefused(403, ch -> ch.basicGet(Topology.PERSIST_QUEUE, true));
        // nor copy every job event into its own queue: it has no read on forge.events
        assertRefused(403, ch -> ch.queueBind(Topology.workerQueue(WORKER), Topology.EVENTS_EXCHANGE, "#"));
    }

    /**
     * Job messages (the prompts) reach a worker's queue through the default exchange, on which nobody can bind: the
     * worker's user can neither bind a queue of its own there under another worker's queue name, nor bind one to the
     * old {@code forge.jobs} direct exchange with another worker's routing key (it has no read on it), nor hand out
     * job messages itself (no write on {@code amq.default}).
     */
    @Test
    void theWorkerUserCannotCopyAnotherWorkersJobMessagesNorHandOutJobMessages() throws Exception {
        String otherQueue = Topology.workerQueue("lp.worker-2");
        // the one queue it may bind (to forge.control); the running worker holds it exclusively, so a bind the user
        // were allowed would still fail, but later and otherwise (405 RESOURCE_LOCKED): 403 is the missing right
        String ownControl = Topology.controlQueue(WORKER);

        assertRefused(403, ch -> ch.queueBind(ownControl, Topology.HANDOUT_EXCHANGE, otherQueue));
        assertRefused(403, ch -> ch.queueBind(Topology.workerQueue(WORKER), Topology.HANDOUT_EXCHANGE, otherQueue));
        assertRefused(403, ch -> ch.queueBind(ownControl, OLD_JOBS_EXCHANGE, "worker.lp.worker-2"));
        assertRefused(403, ch -> ch.queueBind(Topology.workerQueue(WORKER), OLD_JOBS_EXCHANGE, "worker.lp.worker-2"));
        assertRefused(
                403,
                ch -> ch.basicPublish(
                        Topology.HANDOUT_EXCHANGE, otherQueue, null, "{}".getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void theWorkerUserCannotDeclareOrDeleteTheGatewaysQueues() throws Exception {
        assertRefused(403, ch -> ch.queueDelete(Topology.PERSIST_QUEUE));
        assertRefused(403, ch -> ch.queueDeclare(Topology.relayQueue("gw-1"), false, false, true, null));
        assertRefused(403, ch -> ch.queuePurge(Topology.deadLetterQueue(Topology.DEFAULT_POOL)));
        assertRefused(403, ch -> ch.exchangeDelete(Topology.EVENTS_EXCHANGE));
    }

    @Test
    void anEventWhoseUserIdIsAnotherUsersClosesThePublishersChannel() throws Exception {
        AMQP.BasicProperties forged =
                new AMQP.BasicProperties.Builder().userId(OTHER.username()).build();

        assertRefused(
                406,
                ch -> ch.basicPublish(
                        Topology.EVENTS_EXCHANGE, "job.succeeded", forged, "{}".getBytes(StandardCharsets.UTF_8)));
    }

    interface ChannelAction {
        void run(Channel channel) throws Exception;
    }

    /**
     * Runs {@code action} as the worker's user on a new channel and asserts that the broker closes the channel with
     * {@code code} (403 ACCESS_REFUSED, 406 PRECONDITION_FAILED). A publish is refused asynchronously: a synchronous
     * call after it waits for the refusal.
     */
    private static void assertRefused(int code, ChannelAction action) throws Exception {
        Channel channel = own.createChannel();
        try {
            action.run(channel);
            channel.basicQos(1); // a round trip: a refused publish has closed the channel by its answer
        } catch (Exception e) {
            // expected: the refusal; the close reason is checked below
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> !channel.isOpen());
        ShutdownSignalException reason = channel.getCloseReason();
        assertThat(reason.getReason()).isInstanceOf(AMQP.Channel.Close.class);
        assertThat(((AMQP.Channel.Close) reason.getReason()).getReplyCode())
                .as(reason.getMessage())
                .isEqualTo(code);
    }
}
