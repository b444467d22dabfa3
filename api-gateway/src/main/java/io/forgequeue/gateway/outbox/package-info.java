/**
 * Transactional outbox: committed cancel commands published with publisher confirms ({@link
 * io.forgequeue.gateway.outbox.OutboxPublisher}, {@link io.forgequeue.gateway.outbox.OutboxConfirms}, {@link
 * io.forgequeue.gateway.outbox.OutboxSweep}), and targeted stops of redundant attempts.
 */
package io.forgequeue.gateway.outbox;
