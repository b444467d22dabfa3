package io.forgequeue.worker;

import static io.forgequeue.model.fixtures.JobSpecBuilder.aSpec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.rabbitmq.client.BuiltinExchangeType;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import io.forgequeue.forgesim.ForgeSimAdmin;
import io.forgequeue.forgesim.ForgeSimProcess;
import io.forgequeue.model.ErrorCode;
import io.forgequeue.model.EventType;
import io.forgequeue.model.JobEvent;
import io.forgequeue.model.JobFailed;
import io.forgequeue.model.JobSpec;
import io.forgequeue.model.JobSucceeded;
import io.forgequeue.model.Topology;
import io.forgequeue.model.WorkerStatus;
import io.forgequeue.testsupport.RabbitEndpoint;
import io.forgequeue.testsupport.TestInfrastructure;
import io.forgequeue.worker.system.WireJson;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.json.JsonMapper;

/**
 * Issue 17, the worker's part of model-aware placement, against a real RabbitMQ and a real forge-sim process that
 * offers two checkpoints ({@code a} and {@code sub/b}, announced as {@code a} and {@code sub_b}) and takes 0.8 s to
 * load one: the announcements carry the checkpoint that actually ran and the load time measured from a switch, and a
 * job whose image came from another model than requested is retried once after asking Forge to load it, then fails
 * with MODEL_MISMATCH, never delivering the wrong image. Observed from outside: job events and worker statuses are
 * read from forge.events.
 */
@SpringBootTest(
        webEnvironment = SpringBootTest.WebEnvironment.NONE,
        properties = {
            "worker.id=" + TestBroker.WORKER,
            "worker.forge.call-timeout=10s",
            "worker.forge.poll-timeout=2s",
            "worker.progress.poll-interval=100ms",
            "worker.presence.interval=200ms"
        })
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ModelAwareWorkerIT {

    static final Duration WAIT = Duration.ofSeconds(30);
    static final RabbitEndpoint RABBIT = TestInfrastructure.rabbit().withFreshVirtualHost("model-it");
    static final ForgeSimProcess SIM = startSim();

    static Watcher watcher;
    static TestBroker broker;

    @Autowired
    MeterRegistry meters;

    static ForgeSimProcess startSim() {
        try {
            return ForgeSimProcess.start(
                    "--step-ms", "5", "--model-load-ms", "800", "--models", "a.safetensors,sub/b.ckpt");
        } catch (Exception e) {
            throw new IllegalStateException("forge-sim did not start", e);
        }
    }

    @DynamicPropertySource
    static void infrastructure(DynamicPropertyRegistry registry) {
        TestInfrastructure.springProperties(RABBIT, null).forEach((name, value) -> registry.add(name, () -> value));
        registry.add("worker.forge.url", () -> SIM.baseUrl().toString());
    }

    @BeforeAll
    static void watch() throws Exception {
        watcher = new Watcher(RABBIT);
        broker = new TestBroker(RABBIT);
    }

    @AfterAll
    static void stop() throws Exception {
        watcher.close();
        broker.close();
        SIM.close();
    }

    @BeforeEach
    void noFaults() {
        admin().clearFaults();
    }

    @Test
    @Order(1)
    void announcesNoLoadedCheckpointBeforeAJobThenTheOneThatActuallyRan() {
        WorkerStatus.ForgeOffer first = watcher.awaitOffer(o -> true);

        UUID jobId = broker.submit(on("a.safetensors"));

        assertThat(watcher.awaitOutcome(jobId).type()).isEqualTo(EventType.SUCCEEDED);
        assertThat(first.loadedCheckpoint())
                .as("Forge loads lazily; its option is only the selected model")
                .isNull();
        assertThat(first.checkpoints()).contains("a", "sub_b");
        assertThat(watcher.awaitOffer(o -> "a".equals(o.loadedCheckpoint())).loadedCheckpoint())
                .isEqualTo("a");
    }

    @Test
    @Order(2)
    void announcesTheLoadTimeMeasuredFromASwitchAndTheSpeed() {
        UUID warm = broker.submit(on("a")); // no switch: a speed sample
        assertThat(watcher.awaitOutcome(warm).type()).isEqualTo(EventType.SUCCEEDED);

        UUID switched = broker.submit(on("sub/b.ckpt")); // a switch: 0.8 s load

        assertThat(watcher.awaitOutcome(switched).type()).isEqualTo(EventType.SUCCEEDED);
        WorkerStatus.ForgeOffer offer = watcher.awaitOffer(o -> o.loadSeconds().containsKey("sub_b"));
        assertThat(offer.loadedCheckpoint()).isEqualTo("sub_b");
        assertThat(offer.loadSeconds().get("sub_b")).isBetween(0.5, 1.5);
        assertThat(offer.secondsPerStep()).isNotNull().isPositive();
        assertThat(meters.get("gpu.worker.checkpoint.switches")
                        .tag("checkpoint", "sub_b")
                        .counter()
                        .count())
                .isEqualTo(1);
        assertThat(meters.get("gpu.worker.gpu.time")
                        .tag("activity", "loading")
                        .functionCounter()
                        .count())
                .isBetween(0.5, 1.5);
    }

    @Test
    @Order(3)
    void deliversAJobWhoseRetryRanTheRequestedModelAfterForgeWasAskedToLoadIt() {
        long received = admin().stats().calls().received();
        double retried = mismatches("retried");
        admin().ignoreOverrideNext(1); // sub_b is loaded; the next call ignores "a"

        UUID jobId = broker.submit(on("a"));

        JobSucceeded done = (JobSucceeded) watcher.awaitOutcome(jobId);
        assertThat(done.metadata()).containsEntry("sdModelName", "a").containsEntry("modelVerified", true);
        assertThat(admin().stats().calls().received() - received)
                .as("the mismatch and one retry")
                .isEqualTo(2);
        assertThat(mismatches("retried") - retried).isEqualTo(1);
    }

    @Test
    @Order(4)
    void failsWithModelMismatchAndNoImageWhenForgeRunsTheWrongModelTwice() {
        long received = admin().stats().calls().received();
        double retried = mismatches("retried");
        double failed = mismatches("failed");
        admin().ignoreOverrideNext(2); // a is loaded; the next two calls ignore "sub_b"

        UUID jobId = broker.submit(on("sub_b"));

        JobFailed outcome = (JobFailed) watcher.awaitOutcome(jobId);
        assertThat(outcome.code()).isEqualTo(ErrorCode.MODEL_MISMATCH);
        assertThat(outcome.message()).isEqualTo("The GPU server used model a instead of sub_b.");
        assertThat(outcome.metadata())
                .containsEntry("checkpointRequested", "sub_b")
                .containsEntry("checkpointUsed", "a");
        assertThat(watcher.eventsOf(jobId)).extracting(JobEvent::type).doesNotContain(EventType.SUCCEEDED);
        assertThat(admin().stats().calls().received() - received)
                .as("the mismatch and ONE retry")
                .isEqualTo(2);
        assertThat(mismatches("retried") - retried).isEqualTo(1);
        assertThat(mismatches("failed") - failed).isEqualTo(1);
        assertThat(meters.get("gpu.worker.jobs")
                        .tags("outcome", "failed", "code", "MODEL_MISMATCH")
                        .counter()
                        .count())
                .isEqualTo(1);
    }

    private static JobSpec on(String checkpoint) {
        return aSpec().size(64, 64).steps(8).checkpoint(checkpoint).build();
    }

    private double mismatches(String outcome) {
        return meters.get("gpu.worker.model.mismatch")
                .tag("outcome", outcome)
                .counter()
                .count();
    }

    private static ForgeSimAdmin admin() {
        return SIM.admin();
    }

    /** Reads job events ({@code job.#}) and worker statuses ({@code worker.status}) off forge.events. */
    static final class Watcher implements AutoCloseable {

        private final Connection connection;
        private final JsonMapper json = WireJson.newMapper();
        private final List<JobEvent> events = new CopyOnWriteArrayList<>();
        private final List<WorkerStatus> statuses = new CopyOnWriteArrayList<>();

        Watcher(RabbitEndpoint rabbit) throws Exception {
            connection = rabbit.connectionFactory().newConnection("model-it-watcher");
            Channel channel = connection.createChannel();
            channel.exchangeDeclare(Topology.EVENTS_EXCHANGE, BuiltinExchangeType.TOPIC, true);
            String queue = channel.queueDeclare("", false, true, true, null).getQueue();
            channel.queueBind(queue, Topology.EVENTS_EXCHANGE, "job.#");
            channel.queueBind(queue, Topology.EVENTS_EXCHANGE, Topology.WORKER_STATUS_ROUTING_KEY);
            channel.basicConsume(
                    queue,
                    true,
                    (tag, delivery) -> {
                        if (delivery.getEnvelope().getRoutingKey().equals(Topology.WORKER_STATUS_ROUTING_KEY)) {
                            statuses.add(json.readValue(delivery.getBody(), WorkerStatus.class));
                        } else {
                            events.add(json.readValue(delivery.getBody(), JobEvent.class));
                        }
                    },
                    tag -> {});
        }

        List<JobEvent> eventsOf(UUID jobId) {
            return events.stream().filter(e -> e.jobId().equals(jobId)).toList();
        }

        /** The job's first outcome: succeeded, failed, cancelled or requeued. */
        JobEvent awaitOutcome(UUID jobId) {
            return await().atMost(WAIT)
                    .until(
                            () -> eventsOf(jobId).stream()
                                    .filter(e -> e.type() != EventType.RUNNING
                                            && e.type() != EventType.PROGRESS
                                            && e.type() != EventType.HEARTBEAT)
                                    .findFirst()
                                    .orElse(null),
                            e -> e != null);
        }

        /** The first announced offer of this worker that matches. */
        WorkerStatus.ForgeOffer awaitOffer(Predicate<WorkerStatus.ForgeOffer> matching) {
            return await().atMost(WAIT)
                    .until(
                            () -> statuses.stream()
                                    .filter(s -> s.workerId().equals(TestBroker.WORKER) && s.forge() != null)
                                    .map(WorkerStatus::forge)
                                    .filter(matching)
                                    .findFirst()
                                    .orElse(null),
                            o -> o != null);
        }

        @Override
        public void close() throws Exception {
            connection.close();
        }
    }
}
