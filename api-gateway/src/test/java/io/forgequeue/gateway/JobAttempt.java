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
import io.forgequeue.model.JobMessage;
import io.forgequeue.model.JobPreview;
import io.forgequeue.model.JobProgressed;
import io.forgequeue.model.JobRequeued;
import io.forgequeue.model.JobStarted;
import io.forgequeue.model.JobStatus;
import io.forgequeue.model.JobSucceeded;
import io.forgequeue.model.Topology;
import java.io.IOException;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import tools.jackson.databind.json.JsonMapper;

/**
 * One assignment {@code (job, attempt, worker)} as a worker reports it: builds the events of that attempt with
 * increasing sequence numbers and publishes them to {@code forge.events} exactly as the contract says (persistent
 * JSON, contract header, confirms). Made by a {@link TestWorker} for each job message it receives (then the attempt
 * and the worker id are the assignment's, and an outcome settles the message), or by {@link Broker#attempt} for an
 * assignment the scheduler never made (stale or unknown attempts).
 */
final class JobAttempt {

    static final JsonMapper WIRE = JsonMapper.builder()
            .changeDefaultPropertyInclusion(i -> i.withValueInclusion(JsonInclude.Include.NON_NULL))
            .build();
    static final byte[] PNG = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};

    private final Consumer<List<JobEvent>> publisher;
    private final Consumer<JobPreview> previewPublisher;
    private final String workerId;
    private final UUID jobId;
    private final int attempt;
    private final JobMessage message;
    private final AMQP.BasicProperties properties;
    private final Runnable settle;
    private boolean settled;
    private long seq;
    /** The worker's clock: starts now (so finished jobs feed the recent job-time statistics), 250 ms per event. */
    private Instant clock = Instant.now().truncatedTo(ChronoUnit.MILLIS);

    /** Events of a received job message; {@code settle} acks the message (the worker takes its next one). */
    JobAttempt(
            JobMessage message,
            AMQP.BasicProperties properties,
            Consumer<List<JobEvent>> publisher,
            Consumer<JobPreview> previewPublisher,
            Runnable settle) {
        this.publisher = publisher;
        this.previewPublisher = previewPublisher;
        this.workerId = message.workerId();
        this.jobId = message.jobId();
        this.attempt = message.attempt();
        this.message = message;
        this.properties = properties;
        this.settle = settle;
    }

    /** Events of an assignment nobody received (crafted by the test), published on {@code channel}. */
    JobAttempt(Channel channel, String workerId, UUID jobId, int attempt) {
        this(channel, brokerUser(), workerId, jobId, attempt);
    }

    /** As {@link #JobAttempt(Channel, String, UUID, int)}, published with {@code user} as user_id. */
    JobAttempt(Channel channel, String user, String workerId, UUID jobId, int attempt) {
        this.publisher = events -> publish(channel, user, events);
        this.previewPublisher = preview -> publishPreview(channel, user, preview);
        this.workerId = workerId;
        this.jobId = jobId;
        this.attempt = attempt;
        this.message = null;
        this.properties = null;
        this.settle = () -> {};
    }

    UUID jobId() {
        return jobId;
    }

    int attempt() {
        return attempt;
    }

    String workerId() {
        return workerId;
    }

    /** The job message as the worker received it (null for a crafted attempt). */
    JobMessage message() {
        return message;
    }

    /** The AMQP properties of the received message (null for a crafted attempt). */
    AMQP.BasicProperties properties() {
        return properties;
    }

    /** Sets the worker's clock (to replay the same events with the same times for another job). */
    JobAttempt clockAt(Instant start) {
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
        List<GeneratedImage> list = new ArrayList<>();
        for (int i = 0; i < images; i++) {
            byte[] data = PNG.clone();
            data[data.length - 1] = (byte) ('0' + i);
            list.add(new GeneratedImage(i, 42 + i, "image/png", 512, 512, data));
        }
        return new JobSucceeded(
                jobId,
                attempt,
                workerId,
                ++seq,
                tick(),
                list,
                Map.of("seed", 42, "worker", Map.of("forgeMillis", 1234)));
    }

    /** Succeeded {@code took} after the previous event, with {@code metadata} (e.g. the {@code loadMillis} of a call). */
    JobEvent succeededAfter(java.time.Duration took, Map<String, Object> metadata) {
        clock = clock.plus(took).minusMillis(250);
        JobSucceeded plain = (JobSucceeded) succeeded(1);
        return new JobSucceeded(jobId, attempt, workerId, plain.seq(), plain.occurredAt(), plain.images(), metadata);
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

    /**
     * Publishes the events in the given order and waits for the broker's confirms. When one of them ends the attempt
     * (an outcome, or the job given back), the worker then settles the job message, as the real worker acks it after
     * its outcome was confirmed, and takes its next one.
     */
    void publish(JobEvent... events) {
        publish(List.of(events));
    }

    void publish(List<JobEvent> events) {
        publisher.accept(events);
        if (events.stream().anyMatch(JobAttempt::endsAttempt)) {
            settle();
        }
    }

    /** Runs the attempt to success at once: RUNNING, then SUCCEEDED with one image. */
    void succeed() {
        publish(running(), succeeded(1));
    }

    /**
     * Acks the job message (once): the worker no longer holds it and takes its next one. Nothing for a crafted
     * attempt.
     */
    synchronized void settle() {
        if (!settled) {
            settled = true;
            settle.run();
        }
    }

    static boolean endsAttempt(JobEvent event) {
        JobStatus implied = event.type().impliedStatus();
        return implied.isTerminal() || implied == JobStatus.QUEUED;
    }

    /** Publishes like a worker: persistent JSON with the contract header, mandatory, confirmed. */
    /**
     * The broker user test workers publish as (the harness's user): set as {@code user_id} on every event, preview and
     * announcement, as a real worker does, so the gateway's publisher checks see the worker's own user.
     */
    static String brokerUser() {
        return io.forgequeue.testsupport.TestInfrastructure.rabbit().username();
    }

    static void publish(Channel channel, List<JobEvent> events) {
        publish(channel, brokerUser(), events);
    }

    /** Publishes the events with {@code user} as user_id (the broker refuses another user than the channel's). */
    static void publish(Channel channel, String user, List<JobEvent> events) {
        try {
            synchronized (channel) {
                channel.confirmSelect();
                for (JobEvent event : events) {
                    AMQP.BasicProperties props = new AMQP.BasicProperties.Builder()
                            .contentType(Contract.CONTENT_TYPE)
                            .deliveryMode(2)
                            .userId(user)
                            .headers(Map.of(Contract.VERSION_HEADER, Contract.VERSION))
                            .build();
                    channel.basicPublish(
                            Topology.EVENTS_EXCHANGE, event.routingKey(), true, props, WIRE.writeValueAsBytes(event));
                }
                channel.waitForConfirmsOrDie(10_000);
            }
        } catch (IOException | InterruptedException | TimeoutException e) {
            throw new IllegalStateException("could not publish events", e);
        }
    }

    void preview(int step) {
        previewPublisher.accept(new JobPreview(jobId, attempt, workerId, tick(), step, 20, "image/png", PNG));
    }

    static void publishPreview(Channel channel, JobPreview preview) {
        publishPreview(channel, brokerUser(), preview);
    }

    static void publishPreview(Channel channel, String user, JobPreview preview) {
        try {
            synchronized (channel) {
                channel.basicPublish(
                        Topology.EVENTS_EXCHANGE,
                        Topology.PREVIEW_ROUTING_KEY,
                        new AMQP.BasicProperties.Builder().userId(user).build(),
                        WIRE.writeValueAsBytes(preview));
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public String toString() {
        return "JobAttempt[job=" + jobId + ", attempt=" + attempt + ", worker=" + workerId + "]";
    }
}
