package io.forgequeue.worker.job;

import com.rabbitmq.client.Channel;
import io.forgequeue.worker.system.BackgroundLoop;
import java.time.Duration;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.amqp.AmqpException;
import org.springframework.amqp.core.Message;
import org.springframework.amqp.rabbit.connection.ChannelProxy;
import org.springframework.amqp.rabbit.connection.CorrelationData;
import org.springframework.amqp.rabbit.core.RabbitOperations;
import org.springframework.amqp.rabbit.core.RabbitTemplate;

/**
 * Publishes status events in exactly the order they were submitted: one thread takes them from a queue and sends
 * them over one dedicated channel ({@link RabbitTemplate#invoke}), so the broker stores the events of an attempt in
 * sequence order without the worker having to wait for one event's confirm before sending the next. The caller
 * gets the {@link CorrelationData} at once; it completes with the broker's confirm (or a nack when the event could
 * not be sent).
 *
 * <p>One channel, not the connection factory's cached channels (handed out round robin), is what keeps the order:
 * events leave from the listener and from the progress poller, and over two channels they could overtake each
 * other. No event waits for another's confirm, so a PROGRESS or RUNNING event sent just before a job ends adds no
 * confirm round trip between Forge's end and the next job's start.
 *
 * <p>An event that could not be sent within {@code maxWait} (broker unreachable) is failed, not sent late. If the
 * channel breaks, the event being sent is failed, its successors go out on a new channel once the broker answers.
 * After the broker refuses an event (a nack), the channel is closed and the next event goes out on a new one: a
 * RabbitMQ 3.10 channel that first published to a quorum queue while it elected a new leader (its node was killed)
 * kept refusing every event until the old node came back, almost two minutes, while new channels were accepted.
 * Thread-safe.
 */
final class OrderedSender implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(OrderedSender.class);
    private static final long RETRY_PAUSE_MILLIS = 200;
    private static final String NOT_SENT = "not sent: ";

    private record Task(
            String exchange, String routingKey, Message message, CorrelationData correlation, long enqueuedNanos) {}

    private final RabbitTemplate template;
    private final long maxWaitNanos;
    private final LinkedBlockingDeque<Task> queue = new LinkedBlockingDeque<>();
    private final BackgroundLoop loop;
    private final Task[] sending = new Task[1];
    /** Set by {@link #close()}: what is sent from then on fails at once. */
    private volatile boolean closed;
    /** Set when the broker refused an event sent on the current channel: the next send uses a new channel. */
    private volatile boolean renew;

    OrderedSender(RabbitTemplate template, Duration maxWait) {
        this.template = template;
        this.maxWaitNanos = maxWait.toNanos();
        this.loop = BackgroundLoop.draining("event-sender", this::sendOnOneChannel, () -> !queue.isEmpty());
    }

    /** Starts the sending thread ({@code event-sender}); events sent before wait for it. */
    void start() {
        loop.start();
    }

    /** Queues the message; {@code correlation} completes with the broker's confirm. */
    void send(String exchange, String routingKey, Message message, CorrelationData correlation) {
        if (closed) {
            fail(correlation, "the worker is stopping");
            return;
        }
        correlation.getFuture().whenComplete((confirm, error) -> {
            if (confirm != null && !confirm.isAck() && !isOwnFailure(confirm)) {
                renew = true;
            }
        });
        queue.add(new Task(exchange, routingKey, message, correlation, System.nanoTime()));
    }

    /** Sends on one channel until it must be renewed, breaks, or the sender stops with nothing left to send. */
    private void sendOnOneChannel() throws InterruptedException {
        try {
            template.invoke(ops -> {
                while ((loop.isRunning() || !queue.isEmpty())
                        && !Thread.currentThread().isInterrupted()) {
                    Task task = next();
                    if (task == null) {
                        continue;
                    }
                    if (renew) {
                        renew = false;
                        queue.addFirst(task); // keeps its place in the order
                        closeChannel(ops);
                        return null;
                    }
                    if (System.nanoTime() - task.enqueuedNanos() > maxWaitNanos) {
                        fail(task.correlation(), "not sent within " + Duration.ofNanos(maxWaitNanos));
                        continue;
                    }
                    sending[0] = task;
                    ops.send(task.exchange(), task.routingKey(), task.message(), task.correlation());
                    sending[0] = null;
                }
                return null;
            });
        } catch (AmqpException | IllegalStateException e) {
            if (sending[0] != null) {
                fail(sending[0].correlation(), "send failed: " + e.getMessage());
                sending[0] = null;
            }
            log.debug("Event channel unusable ({}); retrying", e.toString());
            Thread.sleep(RETRY_PAUSE_MILLIS);
        }
        if (Thread.interrupted()) {
            throw new InterruptedException();
        }
    }

    /** Closes the channel for good (not back to the cache), so the next {@code invoke} opens a new one. */
    private static void closeChannel(RabbitOperations ops) {
        try {
            ops.execute(channel -> {
                Channel target = channel instanceof ChannelProxy proxy ? proxy.getTargetChannel() : channel;
                target.close();
                return null;
            });
        } catch (AmqpException | IllegalStateException e) {
            log.debug("Closing the event channel failed ({}); a new one is opened anyway", e.toString());
        }
        log.info("The broker refused an event; the next events go out on a new channel");
    }

    private Task next() {
        try {
            return queue.poll(200, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    private static void fail(CorrelationData correlation, String reason) {
        correlation.getFuture().complete(new CorrelationData.Confirm(false, NOT_SENT + reason));
    }

    /** Whether a negative confirm is this sender's own (the event never reached the broker), not the broker's. */
    private static boolean isOwnFailure(CorrelationData.Confirm confirm) {
        return confirm.getReason() != null && confirm.getReason().startsWith(NOT_SENT);
    }

    /** Sends what is queued (for at most 5 s), then stops. */
    @Override
    public void close() {
        closed = true;
        loop.stop(5000);
        Task left;
        while ((left = queue.poll()) != null) {
            fail(left.correlation(), "the worker stopped");
        }
    }
}
