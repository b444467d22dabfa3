package io.forgequeue.worker.job;

/** What happens to the job message once the job's outcome event is confirmed. */
enum Disposition {
    /** Done (succeeded, failed, cancelled): acknowledge. */
    ACK,
    /** Given back (shutdown; REQUEUED confirmed): acknowledge, the scheduler hands the job out again. */
    REQUEUE,
    /** Given back because Forge is down: acknowledge, and stop consuming until Forge answers. */
    REQUEUE_AND_PAUSE,
    /** Impossible job: reject without requeue, so the broker dead-letters it. */
    DEAD_LETTER
}
