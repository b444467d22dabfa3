package io.forgequeue.worker;

import static io.forgequeue.model.fixtures.JobSpecBuilder.aSpec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.rabbitmq.client.BuiltinExchangeType;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import io.forgequeue.forgesim.ForgeSimProcess;
import io.forgequeue.model.ErrorCode;
import io.forgequeue.model.EventType;
import io.forgequeue.model.JobEvent;
import io.forgequeue.model.JobFailed;
import io.forgequeue.model.JobSucceeded;
import io.forgequeue.model.Topology;
import io.forgequeue.testsupport.RabbitEndpoint;
import io.forgequeue.testsupport.TestInfrastructure;
import io.forgequeue.worker.system.WireJson;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.json.JsonMapper;

/**
 * Issue 19: a job's images travel base64 inside its outcome event, and the broker refuses a message above its size
 * limit. Images that add up to more than {@code worker.outcome.max-image-bytes} are not sent: the job fails with
 * IMAGES_TOO_LARGE and a message a person understands, its message is acked (it does not come back to run again), and
 * the worker goes on with the next job. Against a real RabbitMQ and a real forge-sim, whose images of 1024 x 1024
 * (about 470 KB) break the bound configured here (256 KB) while those of 64 x 64 (about 13 KB) do not.
 */
@SpringBootTest(
        webEnvironment = SpringBootTest.WebEnvironment.NONE,
        properties = {
            "worker.id=" + TestBroker.WORKER,
            "worker.outcome.max-image-bytes=256KB",
            "worker.forge.call-timeout=20s",
            "worker.progress.poll-interval=100ms",
            "worker.presence.interval=200ms"
        })
class ImageSizeLimitIT {

    static final Duration WAIT = Duration.ofSeconds(60);
    static final long LIMIT = 256 * 1024;
    static final RabbitEndpoint RABBIT = TestInfrastructure.rabbit().withFreshVirtualHost("image-size-it");
    static final ForgeSimProcess SIM = startSim();

    static Outcomes outcomes;
    static TestBroker broker;

    @Autowired
    MeterRegistry meters;

    static ForgeSimProcess startSim() {
        try {
            return ForgeSimProcess.start("--step-ms", "1", "--model-load-ms", "0");
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
        outcomes = new Outcomes(RABBIT);
        broker = new TestBroker(RABBIT);
    }

    @AfterAll
    static void stop() throws Exception {
        outcomes.close();
        broker.close();
        SIM.close();
    }

    @Test
    void failsAJobWhoseImagesExceedTheBoundWithImagesTooLargeOnceAndGoesOnWithTheNextJob() {
        UUID small = broker.submit(aSpec().size(64, 64).steps(4).build());
        JobEvent smallOutcome = outcomes.await(small);
        assertThat(smallOutcome.type()).as("13 KB fit").isEqualTo(EventType.SUCCEEDED);
        long calls = SIM.admin().stats().calls().received();

        UUID large = broker.submit(aSpec().size(1024, 1024).steps(4).build());
        UUID next = broker.submit(aSpec().size(64, 64).steps(4).seed(7).build());

        JobFailed failed = (JobFailed) outcomes.await(large);
        assertThat(failed.code()).isEqualTo(ErrorCode.IMAGES_TOO_LARGE);
        assertThat(failed.retryable()).isFalse();
        assertThat(failed.message())
                .startsWith("The generated image takes ")
                .endsWith(", more than the 256 KB a job may return. Try fewer images per job or a smaller size.");
        assertThat(((Number) failed.metadata().get("imageBytes")).longValue()).isGreaterThan(LIMIT);
        assertThat(((Number) failed.metadata().get("maxImageBytes")).longValue())
                .isEqualTo(LIMIT);
        assertThat(outcomes.await(next)).as("the worker goes on").isInstanceOf(JobSucceeded.class);
        assertThat(outcomes.of(large))
                .extracting(JobEvent::type)
                .as("no images, never")
                .doesNotContain(EventType.SUCCEEDED);
        assertThat(SIM.admin().stats().calls().received() - calls)
                .as("the large job ran once (not given back and run again before the next one), then the next")
                .isEqualTo(2);
        assertThat(meters.get("gpu.worker.jobs")
                        .tags("outcome", "failed", "code", "IMAGES_TOO_LARGE")
                        .counter()
                        .count())
                .isEqualTo(1);
        assertThat(meters.get("gpu.worker.jobs")
                        .tags("outcome", "requeued", "code", "none")
                        .counter()
                        .count())
                .isZero();
    }

    /** The job events on forge.events, read off a queue of its own. */
    static final class Outcomes implements AutoCloseable {

        private final Connection connection;
        private final JsonMapper json = WireJson.newMapper();
        private final List<JobEvent> events = new CopyOnWriteArrayList<>();

        Outcomes(RabbitEndpoint rabbit) throws Exception {
            connection = rabbit.connectionFactory().newConnection("image-size-it-watcher");
            Channel channel = connection.createChannel();
            channel.exchangeDeclare(Topology.EVENTS_EXCHANGE, BuiltinExchangeType.TOPIC, true);
            String queue = channel.queueDeclare("", false, true, true, null).getQueue();
            channel.queueBind(queue, Topology.EVENTS_EXCHANGE, "job.#");
            channel.basicConsume(
                    queue,
                    true,
                    (tag, delivery) -> events.add(json.readValue(delivery.getBody(), JobEvent.class)),
                    tag -> {});
        }

        List<JobEvent> of(UUID jobId) {
            return events.stream().filter(e -> e.jobId().equals(jobId)).toList();
        }

        /** The job's first outcome: succeeded, failed, cancelled or requeued. */
        JobEvent await(UUID jobId) {
            return awaitOutcome(() -> of(jobId).stream()
                    .filter(e -> e.type() != EventType.RUNNING
                            && e.type() != EventType.PROGRESS
                            && e.type() != EventType.HEARTBEAT)
                    .findFirst()
                    .orElse(null));
        }

        @Override
        public void close() throws Exception {
            connection.close();
        }
    }

    private static JobEvent awaitOutcome(java.util.concurrent.Callable<JobEvent> outcome) {
        return await().atMost(WAIT).until(outcome, e -> e != null);
    }
}
