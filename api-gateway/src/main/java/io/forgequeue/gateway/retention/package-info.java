/** Data retention: erases finished jobs' prompts and images after the retention time, safely with several gateways. */
package io.forgequeue.gateway.retention;
