/** Jobs: submission, validation, idempotency, cancel, listing, images, and the job row model shared by the other features. */
package io.forgequeue.gateway.job;
