/** Cross-feature wiring: broker topology, JSON codec, problem details, request limits, metrics. */
package io.forgequeue.gateway.system;
