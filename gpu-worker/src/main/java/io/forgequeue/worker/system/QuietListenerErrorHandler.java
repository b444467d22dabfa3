package io.forgequeue.worker.system;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.amqp.AmqpRejectAndDontRequeueException;
import org.springframework.amqp.ImmediateRequeueAmqpException;
import org.springframework.amqp.listener.ConditionalRejectingErrorHandler;

/**
 * The container's default error handler, but a deliberate reject (dead-letter) or requeue thrown by our listeners,
 * which have already logged why, is logged in one line instead of a WARN with a stack trace.
 */
class QuietListenerErrorHandler extends ConditionalRejectingErrorHandler {

    private static final Logger log = LoggerFactory.getLogger(QuietListenerErrorHandler.class);

    @Override
    protected void log(Throwable throwable) {
        for (Throwable t = throwable; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof AmqpRejectAndDontRequeueException || t instanceof ImmediateRequeueAmqpException) {
                log.debug(
                        "Delivery {}: {}",
                        t instanceof ImmediateRequeueAmqpException ? "requeued" : "rejected",
                        t.getMessage());
                return;
            }
        }
        super.log(throwable);
    }
}
