/** WebSocket relay: per-instance relay queue, job updates, previews and coalesced position pushes to clients. */
package io.forgequeue.gateway.relay;
