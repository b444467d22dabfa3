package io.forgequeue.gateway;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import io.forgequeue.model.Contract;
import io.forgequeue.model.ErrorCode;
import io.forgequeue.model.GeneratedImage;
import io.forgequeue.model.JobCancelled;
import io.forgequeue.model.JobEvent;
import io.forgequeue.model.JobFailed;
import io.forgequeue.model.JobHeartbeat;
import io.forgequeue.model.JobPreview;
import io.forgequeue.model.JobProgressed;
import io.forgequeue.model.JobRequeued;
import io.forgequeue.model.JobStarted;
import io.forgequeue.model.JobSucceeded;
import io.forgequeue.model.Topology;
import tools.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeoutException;

/**
 * Plays a gpu-worker on the broker: builds the events of one job attempt with increasing sequence numbers and
 * publishes them to {@code forge.events} exactly as the contract says (persistent JSON, contract header, confirms).
 */
final class TestWorker {

    static final JsonMapper WIRE = JsonMapper.builder()
            .changeDefaultPropertyInclusion(i -> i.withValueInclusion(JsonInclude.Include.NON_NULL)).build();
    static final byte[] PNG = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};

    private final Channel channel;
    private final String workerId;
    private final UUID jobId;
    private final int attempt;
    private long seq;
    /** The worker's clock: starts now (so finished jobs feed the recent job-time statistics), 250 ms per event. */
    private Instant clock = Instant.now().truncatedTo(java.time.temporal.ChronoUnit.MILLIS);

    TestWorker(Channel channel, String workerId, UUID jobId, int attempt) {
        this.channel = channel;
        this.workerId = workerId;
        this.jobId = jobId;
        this.attempt = attempt;
    }

    /** Sets the worker's clock (to replay the same events with the same times for another job). */
    TestWorker clockAt(Instant start) {
        clock = start;
        return this;
    }

    private Instant tick() {
        clock = clock.plusMillis(250);
        return clock;
    }

    JobEvent running() {
        return running(Map.of("forgeUrl", "http://127.0.0.1:7861", "worker", Map.of("version", "1.0", "gpu", "test")));
    }

    JobEvent running(Map<String, Object> metadata) {
        return new JobStarted(jobId, attempt, workerId, ++seq, tick(), metadata);
    }

    JobEvent progress(int percent) {
        return new JobProgressed(jobId, attempt, workerId, ++seq, tick(), percent / 5, 20, percent, 3.0);
    }

    JobEvent heartbeat() {
        return new JobHeartbeat(jobId, attempt, workerId, ++seq, tick());
    }

    JobEvent succeeded(int images) {
        List<GeneratedImage> list = new java.util.ArrayList<>();
        for (int i = 0; i < images; i++) {
            byte[] data = PNG.clone();
            data[data.length - 1] = (byte) ('0' + i);
            list.add(new GeneratedImage(i, 42 + i, "image/png", 512, 512, data));
        }
        return new JobSucceeded(jobId, attempt, workerId, ++seq, tick(), list,
                Map.of("seed", 42, "worker", Map.of("forgeMillis", 1234)));
    }

    JobEvent failed(ErrorCode code) {
        return failed(code, code.defaultMessage(), Map.of("forgeError", "OutOfMemoryError"));
    }

    JobEvent failed(ErrorCode code, String message, Map<String, Object> metadata) {
        return new JobFailed(jobId, attempt, workerId, ++seq, tick(), code, message, code.retryable(), metadata);
    }

    JobEvent cancelled() {
        return new JobCancelled(jobId, attempt, workerId, ++seq, tick(), "interrupted while running");
    }

    JobEvent requeued() {
        return new JobRequeued(jobId, attempt, workerId, ++seq, tick(), "image server unavailable");
    }

    /** Publishes the events in the given order and waits for the broker's confirms. */
    void publish(JobEvent... events) {
        publish(channel, List.of(events));
    }

    static void publish(Channel channel, List<JobEvent> events) {
        try {
            channel.confirmSelect();
            for (JobEvent event : events) {
                AMQP.BasicProperties props = new AMQP.BasicProperties.Builder()
                        .contentType(Contract.CONTENT_TYPE).deliveryMode(2)
                        .headers(Map.of(Contract.VERSION_HEADER, Contract.VERSION)).build();
                channel.basicPublish(Topology.EVENTS_EXCHANGE, event.routingKey(), true, props,
                        WIRE.writeValueAsBytes(event));
            }
            channel.waitForConfirmsOrDie(10_000);
        } catch (IOException | InterruptedException | TimeoutException e) {
            throw new IllegalStateException("could not publish events", e);
        }
    }

    /** Publishes a worker's announcement (as a worker's WorkerAnnouncer does) and waits for the broker's confirm. */
    static void announce(Channel channel, io.forgequeue.model.WorkerStatus status) {
        try {
            channel.confirmSelect();
            AMQP.BasicProperties props = new AMQP.BasicProperties.Builder()
                    .contentType(Contract.CONTENT_TYPE).deliveryMode(1)
                    .headers(Map.of(Contract.VERSION_HEADER, Contract.VERSION)).build();
            channel.basicPublish(Topology.EVENTS_EXCHANGE, Topology.WORKER_STATUS_ROUTING_KEY, false, props,
                    WIRE.writeValueAsBytes(status));
            channel.waitForConfirmsOrDie(10_000);
        } catch (IOException | InterruptedException | TimeoutException e) {
            throw new IllegalStateException("could not publish the worker status", e);
        }
    }

    void preview(int step) {
        JobPreview preview = new JobPreview(jobId, attempt, workerId, tick(), step, 20, "image/png", PNG);
        try {
            channel.basicPublish(Topology.EVENTS_EXCHANGE, Topology.PREVIEW_ROUTING_KEY, null,
                    WIRE.writeValueAsBytes(preview));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
