/** Merges worker status events from the shared persist queue into PostgreSQL, once each, with one guarded statement. */
package io.forgequeue.gateway.event;
