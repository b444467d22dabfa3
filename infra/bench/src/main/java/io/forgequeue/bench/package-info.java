/** Benchmarks of the whole system started as real processes, driven through the public REST API and WebSocket. */
package io.forgequeue.bench;
