/**
 * The wire contract between the api-gateway and the gpu-workers: the job spec and its limits, the job
 * message, the status events, the cancel command, the job state machine and the broker topology names.
 *
 * <p>Plain Java with Jackson annotations only. Every message ignores unknown JSON properties so that a
 * newer sender can add fields without breaking an older reader; {@link io.forgequeue.model.Contract}
 * names the contract version and the JSON settings both sides must use.
 */
package io.forgequeue.model;
