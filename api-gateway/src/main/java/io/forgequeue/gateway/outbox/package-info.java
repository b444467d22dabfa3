/** Transactional outbox relay: publishes committed job messages and cancel commands with publisher confirms. */
package io.forgequeue.gateway.outbox;
