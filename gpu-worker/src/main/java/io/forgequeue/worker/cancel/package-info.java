/**
 * Cancel commands from the control exchange, and the bounded memory of jobs cancelled before they arrived.
 */
package io.forgequeue.worker.cancel;
