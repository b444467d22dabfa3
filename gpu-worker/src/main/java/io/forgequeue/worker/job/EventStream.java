package io.forgequeue.worker.job;

import io.forgequeue.model.JobEvent;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.amqp.AmqpException;
import org.springframework.amqp.rabbit.connection.CorrelationData;

import java.time.Duration;
import java.util.function.LongFunction;

/**
 * The events of one attempt of one job, numbered 1, 2, 3, ... and stored by the broker in that order.
 *
 * <p>Every event is sent only after the broker confirmed the previous one, so events never overtake each other
 * even though they leave from different threads (listener, progress poller) and possibly different channels; a
 * non-final event does not wait for its own confirm, so the RUNNING event costs the job nothing. The outcome is
 * sent last and waited for: the job message is acknowledged only once it is confirmed. After the outcome the
 * stream is closed and late progress events are dropped. Thread-safe.
 */
final class EventStream {

    private static final Logger log = LoggerFactory.getLogger(EventStream.class);

    private final JobEventPublisher publisher;
    private final Duration confirmTimeout;
    private long seq;
    private CorrelationData pending;
    private JobEvent pendingEvent;
    private boolean closed;

    EventStream(JobEventPublisher publisher, Duration confirmTimeout) {
        this.publisher = publisher;
        this.confirmTimeout = confirmTimeout;
    }

    /**
     * Sends a non-final event (RUNNING, PROGRESS, HEARTBEAT). A failure is logged, not thrown: the outcome decides.
     *
     * @param event builds the event from its sequence number
     * @return whether it was sent
     */
    synchronized boolean send(LongFunction<JobEvent> event) {
        if (closed) {
            return false;
        }
        settlePending();
        JobEvent e = event.apply(++seq);
        try {
            pending = publisher.send(e);
            pendingEvent = e;
            return true;
        } catch (AmqpException ex) {
            log.warn("{} event (seq {}) not sent: {}", e.type(), e.seq(), ex.getMessage());
            return false;
        }
    }

    /**
     * Sends the outcome and waits for the broker's confirm; closes the stream.
     *
     * @throws AmqpException when the outcome could not be sent or was not confirmed (the job must not be acked)
     */
    synchronized JobEvent finish(LongFunction<JobEvent> event) {
        closed = true;
        settlePending();
        JobEvent e = event.apply(++seq);
        CorrelationData correlation = publisher.send(e);
        publisher.awaitConfirm(correlation, e, confirmTimeout);
        return e;
    }

    /** Sequence number of the last event built. */
    synchronized long lastSeq() {
        return seq;
    }

    private void settlePending() {
        if (pending == null) {
            return;
        }
        try {
            publisher.awaitConfirm(pending, pendingEvent, confirmTimeout);
        } catch (AmqpException ex) {
            log.warn("{}", ex.getMessage());
        } finally {
            pending = null;
            pendingEvent = null;
        }
    }
}
