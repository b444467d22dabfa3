/** Stuck-job sweep: fails RUNNING jobs that stopped sending events, safely with several gateways. */
package io.forgequeue.gateway.sweep;
