/** What an API key may use of the shared GPUs: priority classes, caps on queued and running jobs, its weight. */
package io.forgequeue.gateway.quota;
