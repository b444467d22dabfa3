/** Queue overview, positions and ETA, computed from PostgreSQL and a periodically refreshed statistics snapshot. */
package io.forgequeue.gateway.queue;
