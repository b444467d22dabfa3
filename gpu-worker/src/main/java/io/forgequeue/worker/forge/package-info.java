/**
 * The Forge HTTP client: the calls the worker makes, their error mapping, the parsing of results and
 * progress, and the Failsafe policies (timeout, retries, circuit breaker) around them.
 */
package io.forgequeue.worker.forge;
