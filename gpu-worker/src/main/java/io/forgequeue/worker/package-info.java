/**
 * The GPU worker application: one process per GPU/Forge server, consuming the job queue of its pool.
 */
package io.forgequeue.worker;
