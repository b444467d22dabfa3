package io.forgequeue.worker.job;

import io.forgequeue.model.JobEvent;
import io.forgequeue.worker.system.WorkerProperties;
import java.time.Duration;
import java.util.function.LongFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.amqp.AmqpException;
import org.springframework.amqp.rabbit.connection.CorrelationData;

/**
 * The events of one attempt of one job, numbered 1, 2, 3, ... and stored by the broker in that order.
 *
 * <p>Events leave in sequence order over one channel ({@link OrderedSender}), from whichever thread sends them
 * (listener, progress poller); numbering and queueing happen under this object's monitor. No event waits for
 * another's confirm: a non-final event is not waited for at all (a failure is logged and counted), so neither the
 * RUNNING event nor a PROGRESS sent just before the end delays anything. The outcome is sent last and waited for:
 * the job message is acknowledged only once the outcome is confirmed. After the outcome the stream is closed and
 * late progress events are dropped. Thread-safe.
 *
 * <p>An outcome the broker refuses or does not confirm is sent again, unchanged (same sequence number, so the
 * gateway's merge treats a second copy as a duplicate), after a pause that doubles up to a limit, for at most
 * {@link WorkerProperties.Outcome#retryFor()}. Giving the job back at once instead would hand it straight back to
 * this worker, which would run it on Forge again and meet the same refusal: a tight loop of wasted GPU time.
 */
final class EventStream {

    private static final Logger log = LoggerFactory.getLogger(EventStream.class);

    /** Where the events go; {@link JobEventPublisher} in production. */
    interface Sink {
        /** Queues the event for sending; the correlation completes with the broker's confirm. */
        CorrelationData send(JobEvent event);

        /** Counts and logs the confirm of an event nobody waits for; never blocks. */
        void whenConfirmed(CorrelationData correlation, JobEvent event);

        /** Waits for the confirm; throws {@link AmqpException} when there is none or it is a refusal. */
        void awaitConfirm(CorrelationData correlation, JobEvent event, Duration timeout);
    }

    /** Pauses the calling thread; replaced in tests. */
    interface Pause {
        void sleep(Duration duration) throws InterruptedException;
    }

    private final Sink sink;
    private final Duration confirmTimeout;
    private final WorkerProperties.Outcome retry;
    private final Pause pause;
    private long seq;
    private boolean closed;

    EventStream(Sink sink, Duration confirmTimeout, WorkerProperties.Outcome retry) {
        this(sink, confirmTimeout, retry, d -> Thread.sleep(d.toMillis()));
    }

    EventStream(Sink sink, Duration confirmTimeout, WorkerProperties.Outcome retry, Pause pause) {
        this.sink = sink;
        this.confirmTimeout = confirmTimeout;
        this.retry = retry;
        this.pause = pause;
    }

    /**
     * Sends a non-final event with the next sequence number, without waiting for its confirm.
     *
     * @return false when the stream is closed (the outcome was sent) or the event could not be queued
     */
    synchronized boolean send(LongFunction<JobEvent> event) {
        if (closed) {
            return false;
        }
        JobEvent e = event.apply(++seq);
        try {
            sink.whenConfirmed(sink.send(e), e);
            return true;
        } catch (AmqpException ex) {
            log.warn("{} event (seq {}) not sent: {}", e.type(), e.seq(), ex.getMessage());
            return false;
        }
    }

    /**
     * Closes the stream and sends the outcome, sending it again while the broker refuses it (see the class
     * comment); returns once the broker has confirmed it.
     *
     * @throws AmqpException when the outcome was still not confirmed after {@code retryFor}, or the thread was
     *                       interrupted while waiting (the job must not be acked)
     */
    JobEvent finish(LongFunction<JobEvent> event) {
        JobEvent e;
        CorrelationData correlation;
        synchronized (this) {
            closed = true;
            e = event.apply(++seq);
            correlation = sink.send(e);
        }
        long deadline = System.nanoTime() + retry.retryFor().toNanos();
        Duration delay = retry.retryDelay();
        for (int sends = 1; ; sends++) {
            try {
                sink.awaitConfirm(correlation, e, confirmTimeout);
                if (sends > 1) {
                    log.info("{} event of job {} confirmed at send {}", e.type(), e.jobId(), sends);
                }
                return e;
            } catch (AmqpException ex) {
                if (System.nanoTime() + delay.toNanos() - deadline > 0) {
                    log.error(
                            "{} (sent {} times in {}); giving up on this attempt",
                            ex.getMessage(),
                            sends,
                            retry.retryFor());
                    throw ex;
                }
                log.warn("{}; sending it again in {} ms", ex.getMessage(), delay.toMillis());
                try {
                    pause.sleep(delay);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw ex;
                }
                delay = min(delay.multipliedBy(2), retry.retryMaxDelay());
                correlation = sink.send(e);
            }
        }
    }

    /** The sequence number of the last event sent (0 before the first). */
    synchronized long lastSeq() {
        return seq;
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }
}
