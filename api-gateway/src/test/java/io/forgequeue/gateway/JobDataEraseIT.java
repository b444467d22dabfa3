package io.forgequeue.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.Delivery;
import io.forgequeue.gateway.apikey.ApiKeys;
import io.forgequeue.model.CancelJobCommand;
import io.forgequeue.model.Contract;
import io.forgequeue.model.ErrorCode;
import io.forgequeue.model.GeneratedImage;
import io.forgequeue.model.JobCancelled;
import io.forgequeue.model.JobEvent;
import io.forgequeue.model.JobFailed;
import io.forgequeue.model.JobMessage;
import io.forgequeue.model.JobStarted;
import io.forgequeue.model.JobSucceeded;
import io.forgequeue.model.Topology;
import io.forgequeue.model.WorkerState;
import io.forgequeue.model.WorkerStatus;
import io.forgequeue.testsupport.PostgresEndpoint;
import io.forgequeue.testsupport.RabbitEndpoint;
import io.forgequeue.testsupport.TestInfrastructure;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Issue 19, the erase API: {@code DELETE /api/v1/jobs/{id}/data} deletes a finished job's images and blanks its
 * prompts and prompt-bearing fields at once, leaving a tombstone; it is idempotent, refuses unfinished jobs (409) and
 * other keys' jobs (404), and a late copy of the job's outcome cannot bring back what was erased. Self-contained: its
 * own gateway context, virtual host and database, and a minimal fake worker that speaks the scheduler's protocol
 * (announces itself READY, takes jobs from its own queue one at a time, publishes the events of the assignment it
 * was given).
 */
@SpringBootTest(
        classes = GatewayApplication.class,
        webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {
            "gateway.instance-id=it-erase",
            "gateway.outbox.sweep-interval=200ms",
            "gateway.retention.interval=1h",
            "gateway.retention.stats-interval=1h"
        })
class JobDataEraseIT {

    static final String POOL = "erase";
    static final Duration WAIT = Duration.ofSeconds(30);
    static final RabbitEndpoint RABBIT = TestInfrastructure.rabbit().withFreshVirtualHost("erase-it");
    static final PostgresEndpoint DB = TestInfrastructure.postgres().withFreshDatabase("erase_it");

    static FakeWorker worker;

    @DynamicPropertySource
    static void infrastructure(DynamicPropertyRegistry registry) {
        TestInfrastructure.springProperties(RABBIT, DB).forEach((name, value) -> registry.add(name, () -> value));
    }

    @LocalServerPort
    int port;

    @Autowired
    ApiKeys apiKeys;

    @Autowired
    JdbcTemplate jdbc;

    @Autowired
    MeterRegistry meters;

    /** Started once the gateway runs (its exchanges exist), kept for the whole class. */
    @BeforeEach
    void startWorker() throws Exception {
        if (worker == null) {
            worker = new FakeWorker(RABBIT, "erase-worker", POOL);
        }
    }

    @AfterAll
    static void stopWorker() throws Exception {
        if (worker != null) {
            worker.close();
        }
    }

    @Test
    void erasesAFinishedJobsPromptsAndImagesAndKeepsTheJobAsATombstone() {
        String key = newKey();
        UUID kept = succeededJob(key, "a lighthouse nobody erases");
        Api.Response submitted = api().post(key, "/api/v1/jobs", job("a secret lighthouse"), "Idempotency-Key", "k-1");
        UUID id = submitted.id();
        JsonNode done = awaitStatus(key, id, "SUCCEEDED");
        assertThat(api().get(key, "/api/v1/jobs/" + id + "/images/0").status()).isEqualTo(200);
        long bytes = imageBytes(id);
        double jobsBefore = erased("jobs");
        double imagesBefore = erased("images");
        double bytesBefore = erased("bytes");

        Api.Response erased = api().delete(key, "/api/v1/jobs/" + id + "/data");

        assertThat(erased.status()).isEqualTo(200);
        JsonNode tombstone = erased.json();
        assertThat(tombstone.get("id").asString()).isEqualTo(id.toString());
        assertThat(tombstone.get("status").asString()).isEqualTo("SUCCEEDED");
        assertThat(tombstone.get("ticket").asLong())
                .isEqualTo(done.get("ticket").asLong());
        assertThat(tombstone.get("version").asLong())
                .isGreaterThan(done.get("version").asLong());
        assertThat(tombstone.get("spec").get("prompt").asString()).isEmpty();
        assertThat(tombstone.get("spec").get("negativePrompt").asString()).isEmpty();
        assertThat(tombstone.get("spec").get("width").asInt()).isEqualTo(512);
        assertThat(tombstone.get("spec").get("seed").asLong()).isEqualTo(42);
        assertThat(tombstone.get("images")).isEmpty();
        assertThat(tombstone.get("dataErased").get("by").asString()).isEqualTo("owner");
        assertThat(tombstone.get("dataErased").get("at").asString()).isNotBlank();
        assertThat(tombstone.get("metadata").get("seed").asInt()).isEqualTo(42);
        assertThat(api().get(key, "/api/v1/jobs/" + id).json()).isEqualTo(tombstone);
        assertThat(api().get(key, "/api/v1/jobs/" + id + "/images/0").status()).isEqualTo(404);
        assertThat(jdbc.queryForObject("select count(*) from job_image where job_id = ?", Long.class, id))
                .isZero();
        assertThat(jdbc.queryForObject("select spec::text from job where id = ?", String.class, id))
                .doesNotContain("secret")
                .doesNotContain("blurry");
        assertThat(jdbc.queryForObject("select metadata::text from job where id = ?", String.class, id))
                .doesNotContain("secret")
                .doesNotContain("parameters");
        assertThat(jdbc.queryForObject("select count(*) from idempotency_key where job_id = ?", Long.class, id))
                .as("the stored hash of the request is one of the prompt")
                .isZero();
        assertThat(jdbc.queryForObject("select count(*) from job_state_history where job_id = ?", Long.class, id))
                .as("the history stays")
                .isGreaterThanOrEqualTo(3);
        assertThat(erased("jobs") - jobsBefore).isEqualTo(1);
        assertThat(erased("images") - imagesBefore).isEqualTo(2);
        assertThat(erased("bytes") - bytesBefore).isEqualTo(bytes).isPositive();
        JsonNode other = api().get(key, "/api/v1/jobs/" + kept).json();
        assertThat(other.get("spec").get("prompt").asString()).isEqualTo("a lighthouse nobody erases");
        assertThat(other.has("dataErased")).isFalse();
        assertThat(other.get("images")).hasSize(2);
        assertThat(api().get(key, "/api/v1/jobs/" + kept + "/images/1").status())
                .isEqualTo(200);
    }

    @Test
    void erasingAgainReturnsTheSameTombstoneAndChangesNothing() {
        String key = newKey();
        UUID id = succeededJob(key, "a secret to erase twice");
        JsonNode first = api().delete(key, "/api/v1/jobs/" + id + "/data").json();
        double jobsBefore = erased("jobs");

        Api.Response again = api().delete(key, "/api/v1/jobs/" + id + "/data");

        assertThat(again.status()).isEqualTo(200);
        assertThat(again.json()).isEqualTo(first);
        assertThat(erased("jobs")).isEqualTo(jobsBefore);
    }

    @Test
    void anotherKeysJobIsNotFoundAndKeepsItsData() {
        String owner = newKey();
        String stranger = newKey();
        UUID id = succeededJob(owner, "a lighthouse that is not yours");

        Api.Response refused = api().delete(stranger, "/api/v1/jobs/" + id + "/data");

        assertThat(refused.status()).isEqualTo(404);
        assertThat(refused.json().get("code").asString()).isEqualTo("job-not-found");
        assertThat(api().get(owner, "/api/v1/jobs/" + id)
                        .json()
                        .get("spec")
                        .get("prompt")
                        .asString())
                .isEqualTo("a lighthouse that is not yours");
        assertThat(jdbc.queryForObject("select count(*) from job_image where job_id = ?", Long.class, id))
                .isEqualTo(2);
    }

    @Test
    void refusesToEraseAJobThatIsNotFinishedAndErasesItOnceItIsCancelled() {
        String key = newKey();
        UUID waiting = api().submit(key, job("nobody runs this secret", "no-worker-pool"))
                .id();
        UUID running = api().submit(key, job("hold: a long secret")).id();
        awaitStatus(key, running, "RUNNING");

        Api.Response queuedRefused = api().delete(key, "/api/v1/jobs/" + waiting + "/data");
        Api.Response runningRefused = api().delete(key, "/api/v1/jobs/" + running + "/data");

        assertThat(queuedRefused.status()).isEqualTo(409);
        assertThat(queuedRefused.json().get("code").asString()).isEqualTo("job-not-finished");
        assertThat(queuedRefused.json().get("status").asString()).isEqualTo("QUEUED");
        assertThat(runningRefused.status()).isEqualTo(409);
        assertThat(runningRefused.json().get("status").asString()).isEqualTo("RUNNING");
        assertThat(runningRefused.json().get("detail").asString()).contains("Cancel it first");
        assertThat(api().get(key, "/api/v1/jobs/" + running)
                        .json()
                        .get("spec")
                        .get("prompt")
                        .asString())
                .isEqualTo("hold: a long secret");

        assertThat(api().delete(key, "/api/v1/jobs/" + waiting).status()).isEqualTo(200);
        assertThat(api().delete(key, "/api/v1/jobs/" + running).status()).isEqualTo(202);
        awaitStatus(key, running, "CANCELLED");

        for (UUID id : List.of(waiting, running)) {
            Api.Response erased = api().delete(key, "/api/v1/jobs/" + id + "/data");
            assertThat(erased.status()).isEqualTo(200);
            assertThat(erased.json().get("status").asString()).isEqualTo("CANCELLED");
            assertThat(erased.json().get("spec").get("prompt").asString()).isEmpty();
        }
    }

    @Test
    void erasesAFailedJobsErrorTextAndALateCopyOfItsOutcomeDoesNotBringItBack() {
        String key = newKey();
        UUID id = api().submit(key, job("fail: a secret forge refuses")).id();
        JsonNode failed = awaitStatus(key, id, "FAILED");
        assertThat(failed.get("error").get("message").asString()).contains("a secret forge refuses");
        // the attempt's RUNNING may be merged after its outcome (a late event only adds startedAt): wait for it, so
        // the view compared below is not changed by it
        await().atMost(WAIT)
                .until(() ->
                        jdbc.queryForObject("select started_at is not null from job where id = ?", Boolean.class, id));
        assertThat(jdbc.queryForObject("select metadata ->> 'forgeMessage' from job where id = ?", String.class, id))
                .contains("a secret forge refuses");

        JsonNode erased = api().delete(key, "/api/v1/jobs/" + id + "/data").json();
        double duplicatesBefore = counter("gpu.gateway.events.rejected", "reason", "duplicate")
                + counter("gpu.gateway.events.merged", "outcome", "late");
        worker.publishAgain(id);
        await().atMost(WAIT)
                .until(() -> counter("gpu.gateway.events.rejected", "reason", "duplicate")
                                + counter("gpu.gateway.events.merged", "outcome", "late")
                        > duplicatesBefore);

        assertThat(erased.get("error").get("code").asString()).isEqualTo("FORGE_REJECTED");
        assertThat(erased.get("error").get("message").asString()).isEqualTo(ErrorCode.FORGE_REJECTED.defaultMessage());
        String metadata = jdbc.queryForObject("select metadata::text from job where id = ?", String.class, id);
        assertThat(metadata)
                .doesNotContain("secret")
                .doesNotContain("forgeMessage")
                .contains("httpStatus");
        assertThat(jdbc.queryForObject("select error_message from job where id = ?", String.class, id))
                .isNull();
        assertThat(api().get(key, "/api/v1/jobs/" + id).json()).isEqualTo(erased);
    }

    @Test
    void documentsTheEraseOperationInTheOpenApiDocument() {
        JsonNode doc = api().get(null, "/api/v1/openapi").json();

        JsonNode erase = doc.get("paths").get("/api/v1/jobs/{id}/data").get("delete");
        assertThat(erase.get("summary").asString()).isEqualTo("Erase a finished job's prompt and images");
        assertThat(erase.get("description").asString())
                .contains("tombstone")
                .contains("Idempotent")
                .contains("gateway.retention.after");
        assertThat(erase.get("responses").propertyNames()).contains("200", "401", "404", "409");
        assertThat(doc.toString()).contains("dataErased");
    }

    // --- helpers ---

    private Api api() {
        return new Api(port);
    }

    private String newKey() {
        String raw = "test-" + UUID.randomUUID();
        apiKeys.ensure("key-" + raw.substring(5, 13), raw);
        return raw;
    }

    private static String job(String prompt) {
        return job(prompt, POOL);
    }

    private static String job(String prompt, String pool) {
        return """
                {"pool":"%s","prompt":"%s","negativePrompt":"blurry","width":512,"height":512,"steps":20,"seed":42,\
                "batchSize":2}""".formatted(pool, prompt);
    }

    private UUID succeededJob(String key, String prompt) {
        UUID id = api().submit(key, job(prompt)).id();
        awaitStatus(key, id, "SUCCEEDED");
        return id;
    }

    private JsonNode awaitStatus(String key, UUID id, String status) {
        return await().atMost(WAIT)
                .pollInterval(Duration.ofMillis(100))
                .until(
                        () -> api().get(key, "/api/v1/jobs/" + id).json(),
                        j -> status.equals(j.get("status").asString()));
    }

    private long imageBytes(UUID id) {
        return jdbc.queryForObject("select sum(octet_length(data)) from job_image where job_id = ?", Long.class, id);
    }

    private double erased(String what) {
        return counter("gpu.gateway.retention.erased." + what, "trigger", "owner");
    }

    private double counter(String name, String tag, String value) {
        var counter = meters.find(name).tag(tag, value).counter();
        return counter == null ? 0 : counter.count();
    }

    /**
     * A worker as the scheduler sees one: announces itself READY every 200 ms (with the assignment it works on), takes
     * jobs from its own queue one at a time (prefetch 1, acked after the outcome) and answers each with the events of
     * its assignment (RUNNING, then the outcome). The prompt says the outcome: {@code fail: ...} fails the job as Forge
     * refusing it and quoting the prompt (as Forge's validation errors can), {@code hold: ...} keeps it running until
     * the gateway cancels it, anything else succeeds with two images whose bytes carry the prompt (as Forge's PNG text
     * chunk does).
     */
    static final class FakeWorker implements AutoCloseable {

        static final JsonMapper WIRE = JsonMapper.builder()
                .changeDefaultPropertyInclusion(i -> i.withValueInclusion(JsonInclude.Include.NON_NULL))
                .build();

        private final String id;
        private final String pool;
        private final UUID instance = UUID.randomUUID();
        private final Connection connection;
        private final Channel jobs;
        private final Channel events;
        private final ExecutorService runner = Executors.newSingleThreadExecutor();
        private final ScheduledExecutorService announcer = Executors.newSingleThreadScheduledExecutor();
        private final AtomicLong statusSeq = new AtomicLong();
        private final AtomicReference<WorkerStatus.Assignment> running = new AtomicReference<>();
        private final Map<UUID, CountDownLatch> held = new ConcurrentHashMap<>();
        private final Map<UUID, String> releases = new ConcurrentHashMap<>();
        private final Map<UUID, JobEvent> outcomes = new ConcurrentHashMap<>();

        FakeWorker(RabbitEndpoint rabbit, String id, String pool) throws Exception {
            this.id = id;
            this.pool = pool;
            connection = rabbit.connectionFactory().newConnection("fake-worker-" + id);
            events = connection.createChannel();
            events.confirmSelect();
            jobs = connection.createChannel();
            jobs.basicQos(1);
            String queue = Topology.workerQueue(id);
            jobs.queueDeclare(queue, false, true, true, Topology.workerQueueArguments(pool));
            jobs.basicConsume(queue, false, (tag, delivery) -> runner.execute(() -> run(delivery)), tag -> {});
            String control = jobs.queueDeclare().getQueue();
            jobs.queueBind(control, Topology.CONTROL_EXCHANGE, "");
            jobs.basicConsume(
                    control,
                    true,
                    (tag, delivery) -> stop(WIRE.readValue(delivery.getBody(), CancelJobCommand.class)),
                    tag -> {});
            announcer.scheduleWithFixedDelay(this::announce, 0, 200, TimeUnit.MILLISECONDS);
        }

        /** A cancel (or a stop of this worker's attempt) ends a held job as CANCELLED, as a real worker would. */
        private void stop(CancelJobCommand command) {
            CountDownLatch latch = held.get(command.jobId());
            if (latch != null
                    && (command.workerId() == null || command.workerId().equals(id))) {
                releases.put(command.jobId(), "cancelled");
                latch.countDown();
            }
        }

        /** Publishes the job's outcome event once more, unchanged (a redelivered copy). */
        void publishAgain(UUID jobId) {
            publish(outcomes.get(jobId));
        }

        private void run(Delivery delivery) {
            try {
                JobMessage job = WIRE.readValue(delivery.getBody(), JobMessage.class);
                UUID jobId = job.jobId();
                int attempt = job.attempt();
                running.set(new WorkerStatus.Assignment(jobId, attempt));
                announce();
                publish(new JobStarted(jobId, attempt, id, 1, Instant.now(), Map.of("pool", pool)));
                String prompt = job.spec().prompt();
                String outcome = "succeeded";
                if (prompt.startsWith("hold:")) {
                    CountDownLatch latch = new CountDownLatch(1);
                    held.put(jobId, latch);
                    latch.await(60, TimeUnit.SECONDS);
                    outcome = releases.getOrDefault(jobId, "succeeded");
                }
                JobEvent event;
                if (prompt.startsWith("fail:")) {
                    Map<String, Object> metadata = new LinkedHashMap<>();
                    metadata.put("httpStatus", 422);
                    metadata.put("forgeError", "ValidationError");
                    metadata.put("forgeMessage", "prompt '" + prompt + "' is not allowed");
                    event = new JobFailed(
                            jobId,
                            attempt,
                            id,
                            2,
                            Instant.now(),
                            ErrorCode.FORGE_REJECTED,
                            "The image server rejected the job's settings: prompt '" + prompt + "' is not allowed",
                            false,
                            metadata);
                } else if (outcome.equals("cancelled")) {
                    event = new JobCancelled(jobId, attempt, id, 2, Instant.now(), "interrupted while running");
                } else {
                    List<GeneratedImage> images = new ArrayList<>();
                    for (int i = 0; i < job.spec().batchSize(); i++) {
                        byte[] png = ("\u0089PNG\r\n\u001a\ntEXtparameters\u0000" + prompt + " #" + i)
                                .getBytes(StandardCharsets.ISO_8859_1);
                        images.add(new GeneratedImage(i, 42 + i, "image/png", 512, 512, png));
                    }
                    Map<String, Object> metadata = new LinkedHashMap<>();
                    metadata.put("seed", 42);
                    metadata.put("sdModelName", "sim");
                    metadata.put("forgeMillis", 120);
                    metadata.put("parameters", prompt + ", Steps: 20");
                    event = new JobSucceeded(jobId, attempt, id, 2, Instant.now(), images, metadata);
                }
                outcomes.put(jobId, event);
                publish(event);
                running.set(null);
                announce();
                synchronized (jobs) {
                    jobs.basicAck(delivery.getEnvelope().getDeliveryTag(), false);
                }
            } catch (Exception e) {
                throw new IllegalStateException("fake worker failed", e);
            }
        }

        /** Numbers and sends in one step, so the gateways never see a newer status before an older one. */
        private void announce() {
            synchronized (events) {
                send(
                        Topology.WORKER_STATUS_ROUTING_KEY,
                        WIRE.writeValueAsBytes(new WorkerStatus(
                                id,
                                instance,
                                pool,
                                WorkerState.READY,
                                statusSeq.incrementAndGet(),
                                running.get(),
                                null,
                                200,
                                Instant.now())));
            }
        }

        private void publish(JobEvent event) {
            send(event.routingKey(), WIRE.writeValueAsBytes(event));
        }

        private void send(String routingKey, byte[] body) {
            AMQP.BasicProperties props = new AMQP.BasicProperties.Builder()
                    .contentType(Contract.CONTENT_TYPE)
                    .deliveryMode(2)
                    .userId(JobAttempt.brokerUser())
                    .headers(Map.of(Contract.VERSION_HEADER, Contract.VERSION))
                    .build();
            synchronized (events) {
                try {
                    events.basicPublish(Topology.EVENTS_EXCHANGE, routingKey, false, props, body);
                    events.waitForConfirmsOrDie(10_000);
                } catch (Exception e) {
                    throw new IllegalStateException("publish failed", e);
                }
            }
        }

        @Override
        public void close() throws Exception {
            announcer.shutdownNow();
            held.values().forEach(CountDownLatch::countDown);
            runner.shutdownNow();
            connection.close();
        }
    }
}
