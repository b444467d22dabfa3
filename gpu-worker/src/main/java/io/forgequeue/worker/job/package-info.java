/**
 * Taking jobs from the queue and running them on Forge, one at a time, reporting each step as a status event
 * and acknowledging a job only after its outcome event is confirmed by the broker.
 */
package io.forgequeue.worker.job;
