/**
 * Cross-feature wiring: configuration, the broker topology, the contract's JSON mapper, metrics and threads.
 */
package io.forgequeue.worker.system;
