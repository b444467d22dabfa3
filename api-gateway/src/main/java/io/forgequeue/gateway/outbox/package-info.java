/** Transactional outbox relay: publishes committed cancel commands with publisher confirms. */
package io.forgequeue.gateway.outbox;
